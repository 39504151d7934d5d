# Reference values for tests/models/cox/test_time_zero.py: R keeps patients with follow-up time 0 (an event at time 0
# lowers survival at time 0), and so does tmesurv. R's veteran with four patients moved to time 0 (two events, two
# censored, in both arms).
# Regenerate with:  Rscript tests/reference/time_zero.R   (from the repository root; needs R's survival package)
# Writes time_zero.csv (the data), time_zero_cox.csv (treatment and karno interaction rows of cox.csv),
# time_zero_km.csv (per-arm median and landmark survival, log-log intervals) and time_zero_logrank.csv.
library(survival)
out <- "tests/reference"
days_per_month <- 365.25 / 12

vet <- survival::veteran
vet$id <- sprintf("V%03d", seq_len(nrow(vet)))
vet$arm <- ifelse(vet$trt == 2, "test", "standard")
zero <- c(3, 10, 80, 101)  # two standard-arm and two test-arm patients
vet$time[zero] <- 0
vet$status[zero] <- c(1, 0, 1, 0)
data <- vet[, c("id", "arm", "time", "status", "karno")]
write.csv(data, file.path(out, "time_zero.csv"), row.names = FALSE)

ctrl <- coxph.control(eps = 1e-10, iter.max = 100)
vet$treated <- as.numeric(vet$arm == "test")
vet$months <- vet$time / days_per_month
row <- function(fit, analysis, subgroup) {
  s <- summary(fit)$coefficients
  data.frame(analysis = analysis, subgroup = subgroup, term = rownames(s), coef = s[, "coef"],
             se = s[, "se(coef)"], p = s[, "Pr(>|z|)"], row.names = NULL)
}
treatment <- coxph(Surv(months, status) ~ treated, data = vet, ties = "efron", control = ctrl)
interaction <- coxph(Surv(months, status) ~ treated + karno + treated:karno, data = vet, ties = "efron",
                     control = ctrl)
cox <- rbind(row(treatment, "treatment", "all"), row(interaction, "interaction", "karno"))
cox$term <- c("arm", "arm", "karno", "arm:karno")
write.csv(cox, file.path(out, "time_zero_cox.csv"), row.names = FALSE)

landmarks <- c(6, 12, 24)
km <- do.call(rbind, lapply(c("treated", "control"), function(a) {
  d <- vet[vet$treated == as.numeric(a == "treated"), ]
  fit <- survfit(Surv(months, status) ~ 1, data = d, conf.type = "log-log")
  q <- quantile(fit, 0.5)
  s <- summary(fit, times = landmarks, extend = TRUE)
  rbind(data.frame(arm = a, statistic = "median", time = NA, estimate = unname(q$quantile),
                   lower = unname(q$lower), upper = unname(q$upper)),
        data.frame(arm = a, statistic = "survival", time = landmarks, estimate = s$surv, lower = s$lower,
                   upper = s$upper))
}))
write.csv(km, file.path(out, "time_zero_km.csv"), row.names = FALSE)

test <- survdiff(Surv(months, status) ~ treated, data = vet)
write.csv(data.frame(chisq = test$chisq, p = pchisq(test$chisq, 1, lower.tail = FALSE)),
          file.path(out, "time_zero_logrank.csv"), row.names = FALSE)
