# Reference posterior for tests/models/pwe/test_brms.py: tmesurv's Bayesian piecewise-exponential (PWE) model
# refitted in brms with the Poisson trick, on R's survival::veteran data and tmesurv's own interval cuts.
#
# Regenerate from the repository root:
#   .venv/bin/python tests/reference/brms_pwe_data.py   # writes brms_pwe_data.csv and brms_pwe_cuts.csv
#   Rscript tests/reference/brms_pwe.R                  # writes brms_pwe_posterior.csv (about 3-5 minutes)
# Needs R with brms, rstan, posterior and survival. Made with the Debian packages (CRAN is not needed):
#   apt-get install -y r-cran-brms r-cran-bh
# plus the include folder Debian's BH package lacks (rstan compiles with -I<BH>/include and wants boost/ in it):
#   mkdir -p /usr/lib/R/site-library/BH/include && ln -s /usr/include/boost /usr/lib/R/site-library/BH/include/boost
#
# Data: patients with time in months, event, arm (1 = test), karno10 = (Karnofsky - 60) / 10 and arm:karno10; cuts
# from tmesurv.models.pwe.data.interval_cuts (K = 10 intervals), read from the CSVs so both sides use identical doubles.
#
# Model: every patient's follow-up is split at the cuts (survival::survSplit; interval k is (c_{k-1}, c_k], so a time
# equal to a cut ends in the interval that the cut closes, as in tmesurv), one row per patient-interval with the
# exposure (time at risk in the interval) and the event indicator, and
#   event ~ 0 + interval + arm + karno10 + arm:karno10 + offset(log(exposure)),  family = poisson
# whose likelihood equals tmesurv's per-patient PWE likelihood up to a constant. The interval coefficients are the
# log baseline hazards at design value zero (tmesurv's log_baseline), the others the log hazard ratios (coef).
#
# Priors: the same prior on both sides, and as vague as tmesurv allows: PwePriors(coef_sd = 10, baseline_sd = 10,
# random_walk_sd = 10). Written on brms's data-scale coefficients b = (a_1..a_K, beta), tmesurv's prior is
#   Normal(0, coef_sd) on beta_j * sd_j (sd_j the population sd of design column j; coefficients per sd),
#   Normal(crude log rate, baseline_sd) on a_1 + mean(X) . beta (the first log baseline of the centred design; crude
#     log rate = log(events / total time)),
#   Normal(0, s) on every step a_{k+1} - a_k (the centring shift cancels in a step), where s is fixed at
#     random_walk_sd (PwePriors(random_walk_sd_fixed = True): random_walk_prior = "fixed", the committed reference,
#     in which the baseline is left free as in Cox) or, with random_walk_prior = "gamma", a parameter with
#     s ~ Gamma(2, rate = 2 / random_walk_sd) (models/pwe/model.py's default hyperprior).
# These are linear maps of b, so the densities agree up to a constant Jacobian; brms gets them as target += statements
# on b and on the extra parameter random_walk_sd (no other prior: brms's default on b is flat). With vague values the
# coefficient and first-baseline priors are negligible and the posterior is dominated by the likelihood; the
# random-walk scale, if learned under the gamma hyperprior (posterior mean about 0.24), smooths the log baseline
# whatever random_walk_sd is, and the arm effect then moves 0.04 from Cox's on these non-proportional hazards. Either
# way both sides fit the same posterior, so posterior summaries may differ only by Monte Carlo error.
#
# Sampling: seed 20240611, 4 chains, iter 6000 with warmup 1000 (20000 draws), 2 cores, adapt_delta 0.99 (the steps
# and their scale form a funnel in this centred form, as in tmesurv; a few divergences remain). The wall times of
# compiling (brm with chains = 0) and of sampling (update without recompiling) are written as columns.
#
# Output brms_pwe_posterior.csv: one row per parameter ("coef": term = design column; "log_baseline": term = interval
# index 0..K-1, as tmesurv's interval coordinate; "random_walk_sd" with the gamma prior) with the posterior mean, sd,
# Monte Carlo standard errors of the mean and sd, bulk and tail ESS and R-hat (posterior::summarise_draws), and run
# details (draws, chains, adapt_delta, random_walk_prior, divergences, seed, versions, wall times in seconds).
suppressPackageStartupMessages({
  library(brms)
  library(posterior)
  library(survival)
})
out <- "tests/reference"
seed <- 20240611
chains <- 4
iter <- 6000
warmup <- 1000
cores <- 2
adapt_delta <- 0.99
coef_sd <- 10
baseline_sd <- 10
random_walk_sd <- 10
random_walk_prior <- "fixed"  # or "gamma": see the header
terms <- c("arm", "karno10", "arm:karno10")

patients <- read.csv(file.path(out, "brms_pwe_data.csv"), check.names = FALSE)
cuts <- read.csv(file.path(out, "brms_pwe_cuts.csv"))$cut
n_intervals <- length(cuts) + 1

# ---- Patient-interval rows
rows <- survSplit(Surv(time, event) ~ arm + karno10 + id, data = patients, cut = cuts, episode = "interval",
                  start = "tstart", end = "tstop")
rows$exposure <- rows$tstop - rows$tstart
rows$interval <- factor(rows$interval, levels = seq_len(n_intervals))
last <- rows[!duplicated(rows$id, fromLast = TRUE), ]
last <- last[match(patients$id, last$id), ]
stopifnot(
  all(rows$exposure > 0),
  isTRUE(all.equal(sum(rows$exposure), sum(patients$time), tolerance = 1e-12)),
  sum(rows$event) == sum(patients$event),
  all(last$tstop == patients$time),
  all(last$event == patients$event),
  # the event's interval is 1 + the number of cuts strictly below the time, as in tmesurv
  all(as.integer(last$interval) == 1 + vapply(patients$time, function(t) sum(cuts < t), integer(1)))
)

# ---- Priors: tmesurv's, written on the data-scale coefficients (see the header)
design <- as.matrix(patients[, terms])
design_mean <- colMeans(design)
design_sd <- sqrt(colMeans(sweep(design, 2, design_mean)^2))  # population sd (ddof = 0), as tmesurv
crude_log_rate <- log(sum(patients$event) / sum(patients$time))
n_b <- n_intervals + length(terms)
coef_index <- sprintf("%d:%d", n_intervals + 1, n_b)
stanvars <- stanvar(design_mean, "design_mean", scode = sprintf("vector[%d] design_mean;", length(terms))) +
  stanvar(design_sd, "design_sd", scode = sprintf("vector[%d] design_sd;", length(terms))) +
  stanvar(crude_log_rate, "crude_log_rate", scode = "real crude_log_rate;")
steps <- sprintf("b[2:%d] - b[1:%d]", n_intervals, n_intervals - 1)
step_prior <- switch(random_walk_prior,
  fixed = sprintf("target += normal_lpdf(%s | 0, %g)", steps, random_walk_sd),
  gamma = sprintf("target += gamma_lpdf(random_walk_sd | 2, %.17g) + normal_lpdf(%s | 0, random_walk_sd)",
                  2 / random_walk_sd, steps)
)
if (random_walk_prior == "gamma") {
  stanvars <- stanvars + stanvar(scode = "real<lower=0> random_walk_sd;", block = "parameters")
}
priors <- c(
  set_prior(sprintf("target += normal_lpdf(b[%s] .* design_sd | 0, %g)", coef_index, coef_sd), check = FALSE),
  set_prior(sprintf("target += normal_lpdf(b[1] + dot_product(design_mean, b[%s]) | crude_log_rate, %g)",
                    coef_index, baseline_sd), check = FALSE),
  set_prior(step_prior, check = FALSE)
)
formula <- bf(event ~ 0 + interval + arm + karno10 + arm:karno10 + offset(log(exposure)))
stopifnot(identical(colnames(model.matrix(~ 0 + interval + arm + karno10 + arm:karno10, rows)),
                    c(paste0("interval", seq_len(n_intervals)), terms)))

# ---- Compile, then sample
compile_seconds <- system.time(
  compiled <- brm(formula, data = rows, family = poisson(), prior = priors, stanvars = stanvars, chains = 0,
                  seed = seed)
)[["elapsed"]]
sample_seconds <- system.time(
  fit <- update(compiled, recompile = FALSE, chains = chains, iter = iter, warmup = warmup, cores = cores,
                seed = seed, control = list(adapt_delta = adapt_delta), refresh = 0)
)[["elapsed"]]

# ---- Summary
draws <- as_draws_df(fit, variable = "^b_|^random_walk_sd$", regex = TRUE)
statistics <- c("mean", "sd", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "rhat")
summary <- as.data.frame(summarise_draws(draws, statistics))
summary[statistics] <- lapply(summary[statistics], as.numeric)  # plain doubles, not pillar_num
hyper <- if (random_walk_prior == "gamma") "random_walk_sd" else character(0)
stopifnot(identical(summary$variable, c(paste0("b_", c(paste0("interval", seq_len(n_intervals)), terms)), hyper)))
divergences <- sum(subset(nuts_params(fit), Parameter == "divergent__")$Value)
result <- data.frame(
  parameter = c(rep("log_baseline", n_intervals), rep("coef", length(terms)), hyper),
  term = c(seq_len(n_intervals) - 1, terms, rep("", length(hyper))),
  summary[statistics],
  draws = ndraws(draws),
  chains = chains,
  adapt_delta = adapt_delta,
  random_walk_prior = random_walk_prior,
  divergences = divergences,
  seed = seed,
  brms_version = as.character(packageVersion("brms")),
  rstan_version = as.character(packageVersion("rstan")),
  stan_version = rstan::stan_version(),
  compile_seconds = compile_seconds,
  sample_seconds = sample_seconds,
  total_seconds = compile_seconds + sample_seconds
)
write.csv(result, file.path(out, "brms_pwe_posterior.csv"), row.names = FALSE)
print(result[, 1:9], digits = 4)
cat(sprintf("brms %s, rstan %s: compile %.1f s, sample %.1f s, %d draws, %d divergences\n",
            packageVersion("brms"), packageVersion("rstan"), compile_seconds, sample_seconds, ndraws(draws),
            divergences))
