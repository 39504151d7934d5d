# Reference values for tmesurv.simulations.validation_size.metrics.harrell_c_batch:
# Harrell's C and its infinitesimal-jackknife standard error, sqrt(concordance()$var), on four replicate cohorts with
# tied times, tied risks and censorings at event times. Run from this folder: Rscript validation_size_concordance.R
library(survival)
set.seed(2021)
n <- 150
rows <- list()
results <- list()
for (replicate in 0:3) {
  time <- round(rexp(n, 1 / 8)) + 1            # integer months: many ties
  event <- rbinom(n, 1, 0.65)
  risk <- round(rnorm(n) - 0.1 * time, 1)      # one decimal: tied risks; informative
  d <- data.frame(replicate = replicate, time = time, event = event, risk = risk)
  rows[[replicate + 1]] <- d
  fit <- concordance(Surv(time, event) ~ risk, data = d, reverse = TRUE)
  results[[replicate + 1]] <- data.frame(replicate = replicate, c_index = fit$concordance, se = sqrt(fit$var))
}
write.csv(do.call(rbind, rows), "validation_size_concordance_data.csv", row.names = FALSE)
write.csv(format(do.call(rbind, results), digits = 15), "validation_size_concordance_r.csv", row.names = FALSE,
          quote = FALSE)
