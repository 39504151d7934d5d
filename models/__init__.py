"""Survival models: Kaplan-Meier and Cox (frequentist), and Bayesian piecewise-exponential models."""
