"""Prediction models saved for external validation: a Cox or Bayesian risk (or treatment-benefit) model."""
