"""Bayesian piecewise-exponential (PWE) survival models with treatment-by-biomarker interactions (PyMC, nutpie)."""
