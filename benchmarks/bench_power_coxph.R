# The reference for benchmarks/bench_power.py: a 1,000-replicate Cox interaction power study as an R loop.
# Run by the benchmark as  Rscript benchmarks/bench_power_coxph.R key=value ...  (every key below is required; lists
# comma-separated), it simulates the same cohort model as tmesurv's power study (tmesurv.simulations.power.cohorts:
# per-arm piecewise-exponential baselines with a cured fraction, a binary biomarker acting as
# eta = positive * (log prognostic_hr + treated * log interaction_hr), uniform entry, administrative cutoff and
# exponential dropout, times floored at half a day), fits coxph(Surv(time, event) ~ arm * positive) to each cohort
# (survival's default Efron ties) and prints the power of the two-sided Wald test of arm:positive at alpha.
# Needs R's survival package; the benchmark skips it when Rscript is absent.
library(survival)

args <- commandArgs(trailingOnly = TRUE)
value <- function(key) {
  hit <- grep(paste0("^", key, "="), args, value = TRUE)
  if (length(hit) != 1) stop("missing argument ", key, "=...")
  as.numeric(strsplit(sub(paste0("^", key, "="), "", hit), ",")[[1]])
}
replicates <- value("replicates"); n <- value("n"); treated <- value("treated"); seed <- value("seed")
interaction_hr <- value("interaction_hr"); prognostic_hr <- value("prognostic_hr"); prevalence <- value("prevalence")
accrual <- value("accrual_months"); follow_up <- value("follow_up"); dropout <- value("dropout_per_year")
alpha <- value("alpha")
arm_hazard <- function(prefix) {
  list(cuts = value(paste0(prefix, "_cuts")), hazards = value(paste0(prefix, "_hazards")),
       cure = value(paste0(prefix, "_cure")))
}
hazards <- list(treated = arm_hazard("treated"), control = arm_hazard("control"))

# Invert S(t | eta) = S_arm(t) ^ exp(eta), S_arm(t) = cure + (1 - cure) exp(-Lambda(t)), Lambda piecewise linear.
event_times <- function(u, eta, hazard) {
  target <- u ^ exp(-eta)
  uncured <- target > hazard$cure
  cumulative <- -log(ifelse(uncured, (target - hazard$cure) / (1 - hazard$cure), 1))
  starts <- c(0, hazard$cuts)
  at_starts <- c(0, cumsum(head(hazard$hazards, -1) * diff(starts)))
  piece <- findInterval(cumulative, at_starts)
  times <- starts[piece] + (cumulative - at_starts[piece]) / hazard$hazards[piece]
  ifelse(uncured, times, Inf)
}

set.seed(seed)
started <- proc.time()[["elapsed"]]
rejected <- 0
for (r in seq_len(replicates)) {
  arm <- sample(rep(c(1, 0), c(treated, n - treated)))
  positive <- as.numeric(runif(n) > 1 - prevalence)
  eta <- positive * (log(prognostic_hr) + arm * log(interaction_hr))
  u <- runif(n)
  time <- numeric(n)
  time[arm == 1] <- event_times(u[arm == 1], eta[arm == 1], hazards$treated)
  time[arm == 0] <- event_times(u[arm == 0], eta[arm == 0], hazards$control)
  censor <- accrual + follow_up - accrual * runif(n)
  if (dropout > 0) censor <- pmin(censor, rexp(n, dropout / 12))
  event <- as.numeric(time <= censor)
  observed <- pmax(pmin(time, censor), 0.5 / (365.25 / 12))
  fit <- coxph(Surv(observed, event) ~ arm * positive)
  z <- coef(fit)[["arm:positive"]] / sqrt(vcov(fit)["arm:positive", "arm:positive"])
  rejected <- rejected + (2 * pnorm(-abs(z)) < alpha)
}
cat(sprintf("power %.4f over %d replicates; loop %.2f s\n", rejected / replicates, replicates,
            proc.time()[["elapsed"]] - started))
