# Reference values for the decision curve of a treatment-benefit model (tests/validation/test_decision_curve.py):
# net benefit of treating the patients whose predicted benefit exceeds a threshold (Vickers, Kattan & Sargent 2007,
# Trials 8:14), computed directly with survival::survfit on validation_external.csv (survival::gbsg, hormonal
# therapy as the treatment; the risks under each arm of the rotterdam hormon x log1p(pgr) model written by
# validation_reference.R), at 3 and 5 years.
# Regenerate with:  Rscript tests/reference/benefit_decision_curve.R   (from the repository root)
#
# Writes validation_benefit_net_benefit.csv: horizon, threshold, net_benefit, treat_all (17 significant digits;
# NA where an arm of the patients above or below the threshold is not followed up to the horizon).
suppressPackageStartupMessages(library(survival))
out <- "tests/reference"
ext <- read.csv(file.path(out, "validation_external.csv"))
fmt <- function(x) sprintf("%.17g", x)
km_risk <- function(rows, h) {
  if (!any(rows)) return(NA)
  fit <- survfit(Surv(time, event) ~ 1, data = ext[rows, ])
  if (max(ext$time[rows]) < h) return(NA)
  1 - summary(fit, times = h)$surv
}
treated <- ext$treated == 1
rows <- list()
for (h in c(3, 5)) {
  benefit <- ext[[paste0("risk_control_", h)]] - ext[[paste0("risk_treated_", h)]]
  control <- km_risk(!treated, h)
  treatment <- km_risk(treated, h)
  for (b in seq(0.01, 0.99, by = 0.01)) {
    above <- benefit > b
    share <- mean(above)
    policy <- (if (share > 0) share * km_risk(above & treated, h) else 0) +
      (if (share < 1) (1 - share) * km_risk(!above & !treated, h) else 0)
    rows[[length(rows) + 1]] <- data.frame(horizon = h, threshold = fmt(b),
                                           net_benefit = fmt(control - policy - b * share),
                                           treat_all = fmt(control - treatment - b))
  }
}
write.csv(do.call(rbind, rows), file.path(out, "validation_benefit_net_benefit.csv"), row.names = FALSE,
          quote = FALSE)
