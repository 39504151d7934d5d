"""Sample size for external validation by simulation (Riley et al. 2022): study files, model, batched metrics."""
