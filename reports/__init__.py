"""HTML reports that put the Bayesian and Cox answers side by side."""
