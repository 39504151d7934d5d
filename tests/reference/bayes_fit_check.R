# Reference values of the posterior-vs-Kaplan-Meier check (tmesurv.models.pwe.fit_check) on R's survival::veteran.
#
# Per arm, the posterior is the conjugate one of an exponential model, rate ~ Gamma(events, exposure) (months), so
#   posterior mean survival  S(t) = (beta / (beta + t))^alpha                        (the gamma's Laplace transform)
#   pointwise 95% band       exp(-q(0.975) t), exp(-q(0.025) t)                      (q: the gamma's quantiles)
# and the check's statistics are computed against survfit's Kaplan-Meier curve over [0, last follow-up]:
#   max_abs: the supremum of |S - KM|, on a grid of 2e6 times plus each jump's left limit;
#   mean_abs: (1 / tau) * integral of |S - KM|, exactly (per step, split where S crosses the step's level);
#   share_in_band: share of the distinct event times where KM lies inside the band.
# Months are days / (365.25 / 12), as tmesurv reads time_unit: days.
# Run: Rscript tests/reference/bayes_fit_check.R  (writes tests/reference/bayes_fit_check_veteran.csv)
library(survival)

out <- file.path(dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))))
vet <- survival::veteran
vet$months <- vet$time / (365.25 / 12)

mean_survival <- function(t, alpha, beta) (beta / (beta + t))^alpha
integral_mean <- function(a, b, alpha, beta) beta / (alpha - 1) * ((beta / (beta + a))^(alpha - 1) - (beta / (beta + b))^(alpha - 1))

arm_row <- function(d, arm) {
  fit <- survfit(Surv(months, status) ~ 1, data = d)
  tau <- max(d$months)
  alpha <- sum(d$status)
  beta <- sum(d$months)
  km <- stepfun(fit$time, c(1, fit$surv))  # right-continuous
  jumps <- sort(unique(d$months[d$status == 1]))
  grid <- sort(unique(c(seq(0, tau, length.out = 2e6), jumps, jumps - 1e-12, tau)))
  max_abs <- max(abs(mean_survival(grid, alpha, beta) - km(grid)))
  edges <- sort(unique(c(0, jumps, tau)))
  total <- 0
  for (i in seq_len(length(edges) - 1)) {
    a <- edges[i]; b <- edges[i + 1]; level <- km(a)
    cross <- beta * (level^(-1 / alpha) - 1)  # S(cross) = level
    parts <- if (cross > a && cross < b) list(c(a, cross), c(cross, b)) else list(c(a, b))
    for (p in parts) {
      area <- integral_mean(p[1], p[2], alpha, beta) - level * (p[2] - p[1])
      total <- total + abs(area)
    }
  }
  lower <- exp(-qgamma(0.975, alpha, beta) * jumps)
  upper <- exp(-qgamma(0.025, alpha, beta) * jumps)
  inside <- km(jumps) >= lower & km(jumps) <= upper
  margin <- min(pmin(abs(km(jumps) - lower), abs(km(jumps) - upper)))
  data.frame(arm = arm, n = nrow(d), events = alpha, follow_up = tau, alpha = alpha, beta = beta,
             max_abs_difference = max_abs, mean_abs_difference = total / tau, share_in_band = mean(inside),
             band_margin = margin)
}

rows <- rbind(arm_row(vet[vet$trt == 2, ], "treated"), arm_row(vet[vet$trt == 1, ], "control"))
write.csv(rows, file.path(out, "bayes_fit_check_veteran.csv"), row.names = FALSE)
print(rows, digits = 12)
