# Reference values for tests/validation/: external validation of a Cox model developed on R's survival::rotterdam
# (node-positive patients) and scored on survival::gbsg, the textbook development/validation pair (Austin, Harrell &
# van Klaveren 2020; McLernon et al. 2023; the survival package's "validation" vignette).
# Regenerate with:  Rscript tests/reference/validation_reference.R   (from the repository root)
# Needs R's survival, riskRegression, rms and Hmisc (Debian: apt-get install r-cran-riskregression r-cran-rms).
# timeROC is not packaged for Debian here; riskRegression::Score gives the same IPCW cumulative/dynamic AUC.
#
# Writes
#   validation_development.csv  rotterdam (nodes > 0): outcome and covariates (case-mix reference)
#   validation_external.csv     gbsg: outcome, covariates, treated (hormon), and the model's predictions fitted in R:
#                               lp, risk_<h> (event by h years), risk_control_<h> / risk_treated_<h> (hormon set to
#                               0 / 1), and the smoothed calibration curve's observed risk cal_<h> per patient
#   validation_grid_risk.csv    gbsg: predicted risk at each time of the integrated-Brier grid (columns t_<time>)
#   validation_metrics.csv      metric, horizon, value (17 significant digits), source (the R call)
#   validation_calibration_grid.csv  the smoothed calibration curve on the paper's grid of predicted risks
#   validation_benefit_groups.csv    observed and predicted benefit by quartile of predicted benefit
# The metrics are computed on the data as read back from the written CSV files, so Python sees the same numbers.
suppressPackageStartupMessages({
  library(survival)
  library(riskRegression)
  library(rms)
})
out <- "tests/reference"
horizons <- c(3, 5)
grid_times <- seq(0.5, 6, by = 0.5)
ctrl <- coxph.control(eps = 1e-10, toler.chol = 1e-12, iter.max = 100)
fmt <- function(x) sprintf("%.17g", x)

# ---- data: recurrence-free survival in years --------------------------------------------------------------------
rott <- subset(rotterdam, nodes > 0)
rott$event <- pmax(rott$recur, rott$death)
rott$time <- ifelse(rott$recur == 1, rott$rtime, rott$dtime) / 365.25
gb <- gbsg
gb$size <- cut(gb$size, c(-Inf, 20, 50, Inf), labels = levels(rotterdam$size))
gb$time <- gb$rfstime / 365.25
gb$event <- gb$status
covariates <- c("age", "meno", "size", "grade", "nodes", "pgr", "er", "hormon")

# ---- the model: developed on rotterdam, with a treatment (hormon) by progesterone-receptor interaction ---------
fit <- coxph(Surv(time, event) ~ age + meno + size + grade + pmin(nodes, 20) + log1p(er) + hormon * log1p(pgr),
             data = rott, control = ctrl)
risk_at <- function(newdata, h) 1 - summary(survfit(fit, newdata = newdata), times = h, extend = TRUE)$surv[1, ]
ext <- data.frame(id = gb$pid, time = gb$time, event = gb$event, treated = gb$hormon, gb[, setdiff(covariates, "hormon")])
ext$lp <- predict(fit, newdata = gb, type = "lp")
for (h in horizons) {
  ext[[paste0("risk_", h)]] <- risk_at(gb, h)
  ext[[paste0("risk_control_", h)]] <- risk_at(transform(gb, hormon = 0), h)
  ext[[paste0("risk_treated_", h)]] <- risk_at(transform(gb, hormon = 1), h)
}
grid_risk <- t(1 - summary(survfit(fit, newdata = gb), times = grid_times)$surv)
colnames(grid_risk) <- paste0("t_", grid_times)

# ---- smoothed calibration curve (Austin et al. 2020), fitted on the data as written ------------------------------
write.csv(ext, file.path(out, "validation_external.csv"), row.names = FALSE)
ext <- read.csv(file.path(out, "validation_external.csv"))
cal_fit <- function(h) {
  d <- data.frame(time = ext$time, event = ext$event, cll = log(-log(1 - ext[[paste0("risk_", h)]])))
  coxph(Surv(time, event) ~ rcs(cll, 3), data = d, control = ctrl, x = TRUE)
}
cal_risk <- function(model, risk, h) {
  1 - summary(survfit(model, newdata = data.frame(cll = log(-log(1 - risk)))), times = h)$surv[1, ]
}
cal_grids <- list()
for (h in horizons) {
  risk <- ext[[paste0("risk_", h)]]
  ext[[paste0("cal_", h)]] <- cal_risk(cal_fit(h), risk, h)
  grid <- seq(quantile(risk, 0.01), quantile(risk, 0.99), length.out = 100)
  cal_grids[[length(cal_grids) + 1]] <- data.frame(horizon = h, predicted = fmt(grid),
                                                   observed = fmt(cal_risk(cal_fit(h), grid, h)))
}
write.csv(ext, file.path(out, "validation_external.csv"), row.names = FALSE)
ext <- read.csv(file.path(out, "validation_external.csv"))
write.csv(do.call(rbind, cal_grids), file.path(out, "validation_calibration_grid.csv"), row.names = FALSE,
          quote = FALSE)
write.csv(grid_risk, file.path(out, "validation_grid_risk.csv"), row.names = FALSE)
grid_risk <- as.matrix(read.csv(file.path(out, "validation_grid_risk.csv")))
dev <- data.frame(time = rott$time, event = rott$event, rott[, covariates])
write.csv(dev, file.path(out, "validation_development.csv"), row.names = FALSE)
dev <- read.csv(file.path(out, "validation_development.csv"))

metrics <- list()
add <- function(metric, horizon, value, source) {
  metrics[[length(metrics) + 1]] <<- data.frame(metric = metric, horizon = horizon, value = fmt(value),
                                                source = source)
}

# ---- discrimination --------------------------------------------------------------------------------------------
add("harrell_c", NA, concordance(Surv(time, event) ~ lp, data = ext, reverse = TRUE)$concordance,
    "concordance(Surv(time, event) ~ lp, reverse = TRUE)")
add("uno_c", NA, concordance(Surv(time, event) ~ lp, data = ext, reverse = TRUE, timewt = "n/G2")$concordance,
    "concordance(Surv(time, event) ~ lp, reverse = TRUE, timewt = 'n/G2')")
add("uno_c", 5, concordance(Surv(time, event) ~ lp, data = ext, reverse = TRUE, timewt = "n/G2", ymax = 5)$concordance,
    "concordance(Surv(time, event) ~ lp, reverse = TRUE, timewt = 'n/G2', ymax = 5)")

# ---- time-dependent AUC, Brier, IPA (riskRegression::Score, KM censoring model) -----------------------------------
# Score() turns its data argument into a data.table by reference: give it a copy of the outcome only
outcome <- function() data.frame(time = ext$time, event = ext$event)
risk_matrix <- as.matrix(ext[, paste0("risk_", horizons)])
score <- Score(list(model = risk_matrix), formula = Surv(time, event) ~ 1, data = outcome(), times = horizons,
               metrics = c("auc", "brier"), summary = "ipa", cens.model = "km", null.model = TRUE, conf.int = FALSE)
auc <- score$AUC$score
brier <- score$Brier$score
for (h in horizons) {
  add("time_auc", h, auc[model == "model" & times == h, AUC], "Score(metrics = 'auc', cens.model = 'km')$AUC")
  add("brier", h, brier[model == "model" & times == h, Brier], "Score(metrics = 'brier', cens.model = 'km')$Brier")
  add("brier_null", h, brier[model == "Null model" & times == h, Brier], "Score(...)$Brier, Null model")
  add("ipa", h, brier[model == "model" & times == h, IPA], "Score(..., summary = 'ipa')$Brier$IPA")
}
ibs <- Score(list(model = grid_risk), formula = Surv(time, event) ~ 1, data = outcome(), times = grid_times,
             metrics = "brier", summary = "ibs", cens.model = "km", null.model = TRUE, conf.int = FALSE)$Brier$score
last <- max(grid_times)
add("integrated_brier", last, ibs[model == "model" & times == last, IBS], "Score(..., summary = 'ibs')$Brier$IBS")
add("integrated_brier_null", last, ibs[model == "Null model" & times == last, IBS], "Score(..., summary = 'ibs'), Null")

# ---- calibration ---------------------------------------------------------------------------------------------------
km <- survfit(Surv(time, event) ~ 1, data = ext)
for (h in horizons) {
  risk <- ext[[paste0("risk_", h)]]
  observed <- 1 - summary(km, times = h)$surv
  add("observed_risk", h, observed, "1 - summary(survfit(Surv(time, event) ~ 1), times = h)$surv")
  add("oe_ratio", h, observed / mean(risk), "observed_risk / mean(risk)")
  add("calibration_in_the_large", h, observed - mean(risk), "observed_risk - mean(risk)")
  error <- abs(ext[[paste0("cal_", h)]] - risk)
  add("ici", h, mean(error), "mean |survfit(coxph(Surv(time, event) ~ rcs(cll, 3))) risk - risk|")
  add("e50", h, median(error), "median of the same")
  add("e90", h, quantile(error, 0.9, names = FALSE), "quantile(., 0.9) of the same")
  d <- data.frame(time = ext$time, event = ext$event, cll = log(-log(1 - risk)))
  paper <- cph(Surv(time, event) ~ rcs(cll, 3), x = TRUE, y = TRUE, surv = TRUE, data = d)
  add("ici_rms", h, mean(abs(1 - survest(paper, newdata = d, times = h)$surv - risk)),
      "Austin et al. 2020 code: cph(Surv ~ rcs(cll, 3)) and survest, cph's default convergence")
}
add("calibration_slope", NA, coef(coxph(Surv(time, event) ~ lp, data = ext, control = ctrl))[[1]],
    "coef(coxph(Surv(time, event) ~ lp))")
add("calibration_slope", 5,
    coef(coxph(Surv(pmin(time, 5), event * (time <= 5)) ~ lp, data = ext, control = ctrl))[[1]],
    "coef(coxph(Surv(pmin(time, 5), event * (time <= 5)) ~ lp))")

# ---- treatment benefit ---------------------------------------------------------------------------------------------
km_at <- function(rows, h) {
  s <- summary(survfit(Surv(time, event) ~ 1, data = ext[rows, ]), times = h)
  c(risk = 1 - s$surv, se = s$std.err)
}
groups <- list()
for (h in horizons) {
  benefit <- ext[[paste0("risk_control_", h)]] - ext[[paste0("risk_treated_", h)]]
  quartile <- cut(benefit, quantile(benefit, seq(0, 1, 0.25)), include.lowest = TRUE, labels = paste0("Q", 1:4))
  for (g in c(levels(quartile), "all")) {
    member <- if (g == "all") rep(TRUE, nrow(ext)) else quartile == g
    control <- km_at(member & ext$treated == 0, h)
    treated <- km_at(member & ext$treated == 1, h)
    groups[[length(groups) + 1]] <- data.frame(
      horizon = h, group = g, n = sum(member), events = sum(ext$event[member] & ext$time[member] <= h),
      predicted = fmt(mean(benefit[member])), observed = fmt(control[["risk"]] - treated[["risk"]]),
      se = fmt(sqrt(control[["se"]]^2 + treated[["se"]]^2)))
  }
  # c-for-benefit (van Klaveren et al. 2018) at h: patients censored before h left out, rank matching within arm
  # (the larger arm's partner of the smaller arm's k-th patient, k = 0, 1, ..., has rank floor((k + 1/2) M / m)),
  # pair benefit = mean of the pair's predicted benefits; concordance by Hmisc::rcorr.cens as in the paper.
  known <- ext$time > h | ext$event == 1
  y <- as.numeric(ext$time <= h & ext$event == 1)
  ctl <- which(known & ext$treated == 0)
  trt <- which(known & ext$treated == 1)
  ctl <- ctl[order(benefit[ctl])]
  trt <- trt[order(benefit[trt])]
  small <- if (length(ctl) <= length(trt)) ctl else trt
  large <- if (length(ctl) <= length(trt)) trt else ctl
  k <- seq_along(small) - 1
  partner <- large[floor((k + 0.5) * length(large) / length(small)) + 1]
  pair_ctl <- if (length(ctl) <= length(trt)) small else partner
  pair_trt <- if (length(ctl) <= length(trt)) partner else small
  pair_benefit <- (benefit[pair_ctl] + benefit[pair_trt]) / 2
  pair_observed <- y[pair_ctl] - y[pair_trt]
  add("c_for_benefit", h, Hmisc::rcorr.cens(pair_benefit, pair_observed)[["C Index"]],
      "rank-matched pairs, Hmisc::rcorr.cens(pair predicted benefit, pair observed benefit)")
}
write.csv(do.call(rbind, groups), file.path(out, "validation_benefit_groups.csv"), row.names = FALSE, quote = FALSE)

# ---- replication of the interaction ---------------------------------------------------------------------------------
external_fit <- coxph(Surv(time, event) ~ treated * log1p(pgr), data = ext, control = ctrl)
add("interaction_coef_external", NA, coef(external_fit)[["treated:log1p(pgr)"]], "coxph(~ treated * log1p(pgr))")
add("interaction_se_external", NA, sqrt(diag(vcov(external_fit)))[["treated:log1p(pgr)"]], "its standard error")
add("interaction_coef_model", NA, coef(fit)[["hormon:log1p(pgr)"]], "the rotterdam model's interaction")
add("interaction_se_model", NA, sqrt(diag(vcov(fit)))[["hormon:log1p(pgr)"]], "its standard error")

# ---- case-mix ----------------------------------------------------------------------------------------------------------
design <- function(d) {
  x <- d[, covariates]
  for (level in levels(rotterdam$size)) x[[paste0("size=", level)]] <- as.numeric(d$size == level)
  x$size <- NULL
  x
}
x_dev <- design(dev)
x_ext <- design(transform(ext[, setdiff(covariates, "hormon")], hormon = ext$treated))
for (v in names(x_dev)) {
  pooled <- sqrt((var(x_dev[[v]]) + var(x_ext[[v]])) / 2)
  add(paste0("smd:", v), NA, (mean(x_ext[[v]]) - mean(x_dev[[v]])) / pooled, "(mean_ext - mean_dev) / pooled sd")
}
both <- rbind(cbind(x_dev, external = 0), cbind(x_ext[, names(x_dev)], external = 1))
membership <- glm(external ~ ., family = binomial, data = both[, setdiff(names(both), "size=>50")],
                  control = glm.control(epsilon = 1e-14, maxit = 100))
p <- fitted(membership)
ranks <- rank(p)
n1 <- sum(both$external == 1)
n0 <- sum(both$external == 0)
add("membership_auc", NA, (sum(ranks[both$external == 1]) - n1 * (n1 + 1) / 2) / (n1 * n0),
    "glm(external ~ covariates, binomial); AUC by the Mann-Whitney statistic")

write.csv(do.call(rbind, metrics), file.path(out, "validation_metrics.csv"), row.names = FALSE)
