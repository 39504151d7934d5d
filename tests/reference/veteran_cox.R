# Reference values for tests/models/test_cox_reference.py and tests/models/test_km_reference.py.
# Regenerate with:  Rscript tests/reference/veteran_cox.R   (from the repository root; needs R's survival package)
# Writes veteran.csv (the data), veteran_cox.csv (rows of tmesurv's cox.csv), veteran_km.csv and veteran_km_log.csv
# (rows of km.csv, log-log and log intervals) and veteran_logrank.csv (rows of logrank.csv).
library(survival)
out <- "tests/reference"
days_per_month <- 365.25 / 12

vet <- survival::veteran
vet$id <- sprintf("V%03d", seq_len(nrow(vet)))
vet$arm <- ifelse(vet$trt == 2, "test", "standard")
vet$squamous <- ifelse(vet$celltype == "squamous", "yes", "no")
data <- vet[, c("id", "arm", "time", "status", "karno", "prior", "squamous", "age", "celltype")]
write.csv(data, file.path(out, "veteran.csv"), row.names = FALSE)

ctrl <- coxph.control(eps = 1e-10, iter.max = 100)
treated <- as.numeric(vet$arm == "test")

tidy <- function(fit, analysis, subgroup, terms, n, events) {
  s <- summary(fit)$coefficients
  z <- qnorm(0.975)
  data.frame(endpoint = "os", analysis = analysis, subgroup = subgroup, term = terms, n = n, events = events,
             coef = s[, "coef"], se = s[, "se(coef)"], hr = exp(s[, "coef"]),
             hr_lower = exp(s[, "coef"] - z * s[, "se(coef)"]), hr_upper = exp(s[, "coef"] + z * s[, "se(coef)"]),
             p = s[, "Pr(>|z|)"], row.names = NULL)
}

fit_terms <- function(d, x, analysis, subgroup, terms) {
  fit <- coxph(Surv(d$time, d$status) ~ x, ties = "efron", control = ctrl)
  tidy(fit, analysis, subgroup, terms, nrow(d), sum(d$status))
}

rows <- list(fit_terms(vet, treated, "treatment", "all", "arm"))
stratified <- coxph(Surv(time, status) ~ treated + strata(celltype), data = vet, ties = "efron", control = ctrl)
rows[[2]] <- tidy(stratified, "treatment_stratified", "all", "arm", nrow(vet), sum(vet$status))
biomarkers <- list(karno = vet$karno, prior = as.numeric(vet$prior == 10), squamous = as.numeric(vet$squamous == "yes"))
two_level <- c(karno = FALSE, prior = TRUE, squamous = TRUE)
for (name in names(biomarkers)) {
  x <- biomarkers[[name]]
  design <- cbind(treated, x, treated * x)
  rows[[length(rows) + 1]] <- fit_terms(vet, design, "interaction", name, c("arm", name, paste0("arm:", name)))
  high <- if (two_level[[name]]) x == 1 else x > median(x)
  for (a in c("treated", "control")) {
    keep <- if (a == "treated") treated == 1 else treated == 0
    rows[[length(rows) + 1]] <- fit_terms(vet[keep, ], as.numeric(high[keep]), "within_arm", a, paste0(name, "=high"))
  }
  for (level in c("high", "low")) {
    keep <- if (level == "high") high else !high
    rows[[length(rows) + 1]] <- fit_terms(vet[keep, ], treated[keep], "subgroup", paste0(name, "=", level), "arm")
  }
}
write.csv(do.call(rbind, rows), file.path(out, "veteran_cox.csv"), row.names = FALSE)

for (ci in c("log-log", "log")) {
  km_rows <- list()
  for (a in c("treated", "control")) {
    d <- vet[if (a == "treated") treated == 1 else treated == 0, ]
    fit <- survfit(Surv(time / days_per_month, status) ~ 1, data = d, conf.type = ci)
    q <- quantile(fit, probs = 0.5)
    km_rows[[length(km_rows) + 1]] <- data.frame(endpoint = "os", arm = a, statistic = "median", time = NA,
      estimate = unname(q$quantile), lower = unname(q$lower), upper = unname(q$upper), n = nrow(d),
      events = sum(d$status), ci_method = ci)
    landmarks <- c(6, 12, 24)
    s <- summary(fit, times = landmarks, extend = TRUE)
    km_rows[[length(km_rows) + 1]] <- data.frame(endpoint = "os", arm = a, statistic = "survival", time = landmarks,
      estimate = s$surv, lower = s$lower, upper = s$upper, n = nrow(d), events = sum(d$status), ci_method = ci)
  }
  file <- if (ci == "log-log") "veteran_km.csv" else "veteran_km_log.csv"
  write.csv(do.call(rbind, km_rows), file.path(out, file), row.names = FALSE)
}

# Log-rank (survdiff, rho = 0): arm, then each biomarker high vs low within each arm (rows of logrank.csv)
logrank_row <- function(d, group, comparison, subgroup) {
  test <- survdiff(Surv(d$time, d$status) ~ group)
  data.frame(endpoint = "os", comparison = comparison, subgroup = subgroup, n = nrow(d), events = sum(d$status),
             chisq = test$chisq, df = 1, p = pchisq(test$chisq, 1, lower.tail = FALSE))
}
lr <- list(logrank_row(vet, treated, "arm", "all"))
for (name in names(biomarkers)) {
  x <- biomarkers[[name]]
  high <- if (two_level[[name]]) x == 1 else x > median(x)
  for (a in c("treated", "control")) {
    keep <- if (a == "treated") treated == 1 else treated == 0
    lr[[length(lr) + 1]] <- logrank_row(vet[keep, ], high[keep], paste0(name, "=high"), a)
  }
}
write.csv(do.call(rbind, lr), file.path(out, "veteran_logrank.csv"), row.names = FALSE)
