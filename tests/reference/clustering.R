# Reference values for tests/models/screens/test_clustering.py and tests/models/screens/test_pca.py.
# Regenerate with:  Rscript tests/reference/clustering.R   (from the repository root; base R only)
# Reads zuma7_trial.csv (committed; its 46 sig_* columns are the signature scores, missing as a block for some
# patients) and writes, with 17 significant digits:
#   clustering_correlation.csv  Spearman correlation matrix of the signatures over complete cases
#   clustering_heights.csv      hclust(dist(cor), "average") merge heights, sorted
#   clustering_membership.csv   cutree memberships for k = 2..6 (R's labels: first appearance in column order)
#   clustering_rms_k4.csv       per patient root mean square of each k = 4 cluster's members (raw scores; NA where
#                               the patient has no expression)
#   pca_sdev.csv, pca_rotation.csv, pca_scores.csv
#                               prcomp(scale. = TRUE) of PCA_FEATURES over complete cases: sdev, rotation, and the
#                               scores (x) of the first 20 complete patients; signs as R returns them
out <- "tests/reference"
trial <- read.csv(file.path(out, "zuma7_trial.csv"))

full_precision <- function(frame) {
  frame[] <- lapply(frame, function(column) if (is.numeric(column)) sprintf("%.17g", column) else column)
  frame
}
write_reference <- function(frame, name) {
  write.csv(full_precision(frame), file.path(out, name), row.names = FALSE, quote = FALSE)
}

# Signature clustering
signatures <- trial[, grep("^sig_", names(trial))]
complete <- signatures[complete.cases(signatures), ]
correlation <- cor(complete, method = "spearman")
write_reference(data.frame(feature = rownames(correlation), correlation, check.names = FALSE),
                "clustering_correlation.csv")

tree <- hclust(dist(correlation), method = "average")
write_reference(data.frame(height = sort(tree$height)), "clustering_heights.csv")

membership <- data.frame(feature = tree$labels)
for (k in 2:6) membership[[paste0("k", k)]] <- cutree(tree, k = k)
write_reference(membership, "clustering_membership.csv")

rms <- data.frame(subject_id = trial$subject_id)
for (cluster in 1:4) {
  members <- membership$feature[membership$k4 == cluster]
  rms[[paste0("cluster_", cluster)]] <- sqrt(rowMeans(as.matrix(trial[, members])^2))
}
write_reference(rms, "clustering_rms_k4.csv")

# PCA of a feature set with different missingness patterns (complete cases of all of them)
PCA_FEATURES <- c("sig_b_cells", "sig_proliferation", "sig_stroma", "sig_tgf_beta", "sig_t_cells", "sig_myeloid",
                  "cd19_hscore", "ldh_ul", "spd_mm2")
rows <- complete.cases(trial[, PCA_FEATURES])
pca <- prcomp(trial[rows, PCA_FEATURES], center = TRUE, scale. = TRUE)
components <- colnames(pca$rotation)
write_reference(data.frame(component = components, sdev = pca$sdev), "pca_sdev.csv")
write_reference(data.frame(feature = rownames(pca$rotation), pca$rotation, check.names = FALSE), "pca_rotation.csv")
write_reference(data.frame(subject_id = trial$subject_id[rows][1:20], pca$x[1:20, ], check.names = FALSE),
                "pca_scores.csv")
