# Reference values for tests/models/cox/test_batched.py: R's coxph per replicate, Efron and Breslow ties.
# Regenerate with:  Rscript tests/reference/batched_cox.R   (from the repository root; needs R's survival package)
# Simulates nothing: reads batched_cox_data.csv (5 replicates x 120 patients, times in whole months, many ties), which
# tests/reference/make_batched_cox_data.py wrote once from a seeded numpy generator, and writes batched_cox_r.csv
# (replicate, ties, term, coef, se, loglik).
library(survival)
out <- "tests/reference"
data <- read.csv(file.path(out, "batched_cox_data.csv"))
ctrl <- coxph.control(eps = 1e-10, iter.max = 100)

rows <- list()
for (r in sort(unique(data$replicate))) {
  d <- data[data$replicate == r, ]
  for (ties in c("efron", "breslow")) {
    fit <- coxph(Surv(time, event) ~ x1 + x2 + x3, data = d, ties = ties, control = ctrl)
    rows[[length(rows) + 1]] <- data.frame(replicate = r, ties = ties, term = names(coef(fit)), coef = unname(coef(fit)),
                                           se = unname(sqrt(diag(vcov(fit)))), loglik = fit$loglik[2])
  }
}
write.csv(do.call(rbind, rows), file.path(out, "batched_cox_r.csv"), row.names = FALSE)
