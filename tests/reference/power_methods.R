# Reference values for tests/simulations/power/test_methods_reference.py: the power-study methods fitted by R's coxph.
# Regenerate with:  Rscript tests/reference/power_methods.R   (from the repository root; needs R's survival package)
# Reads power_methods_data.csv (8 cohorts of 200 from the power-study generator; tests/reference/
# make_power_methods_data.py wrote it once) and writes power_methods_r.csv, per replicate and method: the interaction
# log HR (estimate, se, Wald p) and, for the median split, the within-arm fits and the paper's decision.
#   cox_interaction             coxph(Surv(time, event) ~ arm + positive + arm:positive)
#   cox_interaction_stratified  coxph(Surv(time, event) ~ positive + arm:positive + strata(arm))
#   median_split                high = marker > median(marker) over the cohort; coxph(Surv(time, event) ~ high) within
#                               each arm; estimate = treated - control log HR, se = sqrt(se_t^2 + se_c^2); confirmed
#                               when the treated arm's Wald p < 0.05 and the control arm's is not
library(survival)
out <- "tests/reference"
data <- read.csv(file.path(out, "power_methods_data.csv"))
ctrl <- coxph.control(eps = 1e-10, iter.max = 100)
alpha <- 0.05

wald <- function(fit, term) {
  coef <- unname(coef(fit)[term])
  se <- unname(sqrt(diag(vcov(fit)))[term])
  c(coef = coef, se = se, p = 2 * pnorm(-abs(coef / se)))
}

rows <- list()
add <- function(replicate, method, values) {
  rows[[length(rows) + 1]] <<- data.frame(replicate = replicate, method = method, term = names(values),
                                          value = unname(values))
}
for (r in sort(unique(data$replicate))) {
  d <- data[data$replicate == r, ]
  plain <- coxph(Surv(time, event) ~ arm + positive + arm:positive, data = d, control = ctrl)
  add(r, "cox_interaction", wald(plain, "arm:positive"))
  stratified <- coxph(Surv(time, event) ~ positive + arm:positive + strata(arm), data = d, control = ctrl)
  add(r, "cox_interaction_stratified", wald(stratified, "positive:arm"))
  d$high <- as.integer(d$marker > median(d$marker))
  treated <- wald(coxph(Surv(time, event) ~ high, data = d[d$arm == 1, ], control = ctrl), "high")
  control <- wald(coxph(Surv(time, event) ~ high, data = d[d$arm == 0, ], control = ctrl), "high")
  estimate <- unname(treated["coef"] - control["coef"])
  se <- sqrt(unname(treated["se"])^2 + unname(control["se"])^2)
  add(r, "median_split", c(coef = estimate, se = se, p_treated = unname(treated["p"]),
                           p_control = unname(control["p"]),
                           reject = as.numeric(treated["p"] < alpha && control["p"] >= alpha)))
}
write.csv(do.call(rbind, rows), file.path(out, "power_methods_r.csv"), row.names = FALSE)
