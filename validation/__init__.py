"""Scoring a fitted model on an external cohort (discrimination, calibration, predicted benefit)."""
