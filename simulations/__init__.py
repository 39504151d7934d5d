"""Synthetic cohorts for demos, calibration and power studies."""
