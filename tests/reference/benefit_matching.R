# Reference values for tests/validation/test_benefit_matching.py: c-for-benefit by rank and by van Klaveren's random
# matching, and E-for-benefit (Maas, van Klaveren et al. 2023), on a split of R's survival::colon (recurrence).
# Regenerate with:  Rscript tests/reference/benefit_matching.R   (from the repository root)
# Needs R's survival and Hmisc.
#
# A benefit model, coxph(Surv(time, status) ~ treated * (node4 + age) + sex), is developed on the odd rows of
# tests/reference/colon.csv (Lev+5FU vs Obs) and predicts, for the even rows, the risk of recurrence by 3 years
# (1096 days) under each arm. Patients censored before the horizon are left out; the rest are matched treated to
# control on predicted benefit:
#   rank    the smaller arm's k-th of m patients with the larger arm's patient of rank floor((k + 1/2) M / m)
#   random  van Klaveren et al. (2018): a random subset of the larger arm, both arms ordered by predicted benefit
#           with ties broken at random, paired by rank; REPEATS matchings
# c-for-benefit: Hmisc::rcorr.cens(pair predicted benefit, pair observed benefit). E-for-benefit: mean (E50: median,
# E90: 90th percentile) of |loess(observed ~ predicted, span 0.75, degree 2, surface "direct") - predicted|.
#
# Writes
#   benefit_matching_colon.csv      the scored half: id, time, status, treated, risk_control, risk_treated
#   benefit_matching_reference.csv  metric, matching, value (17 digits): the rank-matching values, and the mean and
#                                   standard deviation over REPEATS random matchings
#   benefit_matching_loess.csv      x, y and R's loess fit (surface "direct") on a constructed case with ties in x
suppressPackageStartupMessages({
  library(survival)
  library(Hmisc)
})
out <- "tests/reference"
fmt <- function(x) sprintf("%.17g", x)
horizon <- 1096
REPEATS <- 2000

colon <- read.csv(file.path(out, "colon.csv"))
colon$treated <- as.numeric(colon$arm == "Lev+5FU")
development <- colon[seq(1, nrow(colon), 2), ]
scored <- colon[seq(2, nrow(colon), 2), ]
fit <- coxph(Surv(time, status) ~ treated * (node4 + age) + sex, data = development, ties = "efron")
risk_under <- function(level) {
  1 - summary(survfit(fit, newdata = transform(scored, treated = level)), times = horizon)$surv[1, ]
}
scored <- data.frame(id = scored$id, time = scored$time, status = scored$status, treated = scored$treated,
                     risk_control = fmt(risk_under(0)), risk_treated = fmt(risk_under(1)))
write.csv(scored, file.path(out, "benefit_matching_colon.csv"), row.names = FALSE)
scored <- read.csv(file.path(out, "benefit_matching_colon.csv"))  # the metrics use the data as written

benefit <- scored$risk_control - scored$risk_treated
known <- scored$time > horizon | scored$status == 1
outcome <- as.numeric(scored$time <= horizon & scored$status == 1)
ctl <- which(known & scored$treated == 0)
trt <- which(known & scored$treated == 1)

pair_metrics <- function(pair_ctl, pair_trt) {
  predicted <- (benefit[pair_ctl] + benefit[pair_trt]) / 2
  observed <- outcome[pair_ctl] - outcome[pair_trt]
  smooth <- loess(observed ~ predicted, span = 0.75, degree = 2, control = loess.control(surface = "direct"))
  error <- abs(fitted(smooth) - predicted)
  c(c_for_benefit = rcorr.cens(predicted, observed)[["C Index"]], e_for_benefit = mean(error),
    e50_for_benefit = median(error), e90_for_benefit = unname(quantile(error, 0.9)))
}

# rank matching (deterministic)
small <- if (length(ctl) <= length(trt)) ctl else trt
large <- if (length(ctl) <= length(trt)) trt else ctl
small <- small[order(benefit[small])]
large <- large[order(benefit[large])]
m <- length(small)
partner <- large[floor(((0:(m - 1)) + 0.5) * length(large) / m) + 1]
rank <- if (length(ctl) <= length(trt)) pair_metrics(small, partner) else pair_metrics(partner, small)

# van Klaveren's random matching
set.seed(20261204)
random_matching <- function() {
  m <- min(length(ctl), length(trt))
  c_kept <- if (length(ctl) > m) ctl[sample.int(length(ctl), m)] else ctl
  t_kept <- if (length(trt) > m) trt[sample.int(length(trt), m)] else trt
  c_kept <- c_kept[order(benefit[c_kept], runif(m))]
  t_kept <- t_kept[order(benefit[t_kept], runif(m))]
  pair_metrics(c_kept, t_kept)
}
random <- t(replicate(REPEATS, random_matching()))
rows <- rbind(
  data.frame(metric = names(rank), matching = "rank", statistic = "value", value = fmt(rank)),
  data.frame(metric = colnames(random), matching = "random", statistic = "mean", value = fmt(colMeans(random))),
  data.frame(metric = colnames(random), matching = "random", statistic = "sd", value = fmt(apply(random, 2, sd))),
  data.frame(metric = "repeats", matching = "random", statistic = "value", value = REPEATS),
  data.frame(metric = "horizon", matching = "", statistic = "value", value = horizon)
)
write.csv(rows, file.path(out, "benefit_matching_reference.csv"), row.names = FALSE)

# loess with surface = "direct" on a constructed case (ties in x)
set.seed(3)
x <- round(runif(57), 3)
x[5] <- x[6]
y <- sample(c(-1, 0, 1), 57, replace = TRUE)
smooth <- loess(y ~ x, span = 0.75, degree = 2, control = loess.control(surface = "direct"))
write.csv(data.frame(x = fmt(x), y = y, fit = fmt(fitted(smooth))), file.path(out, "benefit_matching_loess.csv"),
          row.names = FALSE)
