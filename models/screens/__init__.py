"""Association screens of many features: per-feature tests with BH q-values, signature clusters and PCA."""
