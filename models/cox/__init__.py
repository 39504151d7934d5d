"""Frequentist survival analyses in the published style: Kaplan-Meier, log-rank, Cox models and their subgroups."""
