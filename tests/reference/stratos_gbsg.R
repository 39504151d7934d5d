# Reference values for tests/validation/test_stratos.py: the STRATOS survival-model tutorial case (McLernon et al.
# 2023, Ann Intern Med 176:105; code of D. Giardiello, github.com/danielegiardiello/Prediction_performance_survival):
# a Cox model of recurrence-free survival developed on all of R's survival::rotterdam, administratively censored at
# 5 years, and validated on survival::gbsg censored at 5 years, at the horizon of 5 years.
# Regenerate with:  Rscript tests/reference/stratos_gbsg.R   (from the repository root)
# Needs R's survival, riskRegression, rms and Hmisc.
#
# Preparation as in the tutorial: time in months here (days / 365.25 * 12; 5 years = 60 months), recurrence or death
# (the death time for the 43 patients censored at a recurrence time before their death), PGR and nodes winsorised at
# their development 99th percentiles (type 1), restricted cubic spline terms of nodes (knots 0, 1, 9; Hmisc
# rcspline.eval, norm 2), size in three classes, grade 1-2 against 3; then survSplit at 60 months. The model is the
# tutorial's basic one: csize + nodes2 + nodes3 + grade3. Its design columns are written as numbers (dummies and the
# spline term), so the test fits the same model with tmesurv's Cox on plain numeric terms.
#
# Writes
#   stratos_development.csv   rotterdam, censored at 60 months: id, time, event and the design columns
#   stratos_external.csv      gbsg, censored at 60 months: id, time, event, design columns, and R's predictions:
#                             lp (predict type "lp"), risk_efron (riskRegression::predictRisk at 60), risk_breslow
#                             (survfit ctype = 1 at 60), cal (smoothed observed risk of each patient, coxph + survfit)
#   stratos_coef.csv          term, coef (coxph, Efron ties)
#   stratos_metrics.csv       metric, value (17 significant digits), source (the R call)
#   stratos_net_benefit.csv   threshold, net_benefit, treat_all: the tutorial's direct Kaplan-Meier net benefit (NA
#                             where nobody above the threshold is followed to 60 months; the tutorial writes 0)
# R works on the data as read back from the written CSV files, so Python sees the same numbers.
suppressPackageStartupMessages({
  library(survival)
  library(riskRegression)
  library(rms)
})
out <- "tests/reference"
horizon <- 60
ctrl <- coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 100)
fmt <- function(x) sprintf("%.17g", x)

# ---- preparation -----------------------------------------------------------------------------------------------------
rott <- rotterdam
rott$time <- rott$rtime / 365.25 * 12
rott$event <- pmax(rott$recur, rott$death)
died_later <- rott$event == 1 & rott$recur == 0 & rott$death == 1 & rott$rtime < rott$dtime
rott$time[died_later] <- rott$dtime[died_later] / 365.25 * 12
pgr99 <- quantile(rott$pgr, 0.99, type = 1, names = FALSE)
nodes99 <- quantile(rott$nodes, 0.99, type = 1, names = FALSE)

design <- function(d, size) {
  nodes2 <- pmin(d$nodes, nodes99)
  spline <- Hmisc::rcspline.eval(nodes2, knots = c(0, 1, 9))
  data.frame(size_20_50 = as.numeric(size == "20-50"), size_gt50 = as.numeric(size == ">50"),
             nodes2 = nodes2, nodes3 = as.vector(spline), grade3 = as.numeric(d$grade == 3),
             pgr2 = pmin(d$pgr, pgr99))
}
censor <- function(d) {
  data.frame(id = d$pid, time = pmin(d$time, horizon), event = d$event * (d$time <= horizon))
}
gb <- gbsg
gb$time <- gb$rfstime / 365.25 * 12
gb$event <- gb$status
gb_size <- cut(gb$size, c(-1, 20, 50, 500), c("<=20", "20-50", ">50"))
dev <- cbind(censor(rott), design(rott, as.character(rott$size)))
ext <- cbind(censor(gb), design(gb, as.character(gb_size)))
write.csv(dev, file.path(out, "stratos_development.csv"), row.names = FALSE)
dev <- read.csv(file.path(out, "stratos_development.csv"))
terms <- c("size_20_50", "size_gt50", "nodes2", "nodes3", "grade3")

# ---- the model and its predictions -----------------------------------------------------------------------------------
fit <- coxph(Surv(time, event) ~ size_20_50 + size_gt50 + nodes2 + nodes3 + grade3, data = dev, control = ctrl,
             ties = "efron", x = TRUE, y = TRUE)
write.csv(data.frame(term = names(coef(fit)), coef = fmt(coef(fit))), file.path(out, "stratos_coef.csv"),
          row.names = FALSE, quote = FALSE)
ext$lp <- predict(fit, newdata = ext, type = "lp")
ext$risk_efron <- as.vector(predictRisk(fit, newdata = ext, times = horizon))
ext$risk_breslow <- 1 - summary(survfit(fit, newdata = ext, ctype = 1), times = horizon)$surv[1, ]
write.csv(ext, file.path(out, "stratos_external.csv"), row.names = FALSE)
ext <- read.csv(file.path(out, "stratos_external.csv"))

# ---- smoothed calibration curve (Austin et al. 2020; the tutorial's rcs(cll, 3)) ---------------------------------------
cal_data <- data.frame(time = ext$time, event = ext$event, cll = log(-log(1 - ext$risk_efron)))
cal_fit <- coxph(Surv(time, event) ~ rcs(cll, 3), data = cal_data, control = ctrl)
ext$cal <- 1 - summary(survfit(cal_fit, newdata = cal_data), times = horizon)$surv[1, ]
write.csv(ext, file.path(out, "stratos_external.csv"), row.names = FALSE)
ext <- read.csv(file.path(out, "stratos_external.csv"))

metrics <- list()
add <- function(metric, value, source) {
  metrics[[length(metrics) + 1]] <<- data.frame(metric = metric, value = fmt(value), source = source)
}
risk <- ext$risk_efron
add("events_at_horizon", sum(ext$event == 1 & ext$time == horizon), "events at exactly 60 months (0: no tie)")
add("last_time_before_horizon", max(ext$time[ext$time < horizon]), "the latest external time before 60 months")

# ---- discrimination: R's concordance on R's linear predictor (identical patients tie) --------------------------------
add("harrell_c", concordance(Surv(time, event) ~ lp, data = ext, reverse = TRUE)$concordance,
    "concordance(Surv(time, event) ~ lp, reverse = TRUE)")
add("uno_c", concordance(Surv(time, event) ~ lp, data = ext, reverse = TRUE, timewt = "n/G2")$concordance,
    "concordance(Surv(time, event) ~ lp, reverse = TRUE, timewt = 'n/G2')")
add("distinct_lp", length(unique(ext$lp)), "distinct linear predictors (patients with equal terms tie)")

# ---- AUC, Brier, IPA at the administrative censoring time --------------------------------------------------------------
# Score() counts a censoring at exactly t as lost before t, so at t = 60 nobody would be a control. Just below 60
# (halfway to the last earlier time, with no event at 60) every patient censored at 60 is a control weighted by
# 1 / G(60-): the Kaplan-Meier convention tmesurv uses at t = 60 itself. The risks are those predicted at 60.
just_before <- (horizon + max(ext$time[ext$time < horizon])) / 2
outcome <- data.frame(time = ext$time, event = ext$event)
score <- Score(list(model = matrix(risk, ncol = 1)), formula = Surv(time, event) ~ 1, data = outcome,
               times = just_before, metrics = c("auc", "brier"), summary = "ipa", cens.model = "km",
               null.model = TRUE, conf.int = FALSE)
add("time_auc", score$AUC$score[model == "model", AUC], "Score(metrics = 'auc', cens.model = 'km') just below 60")
add("brier", score$Brier$score[model == "model", Brier], "Score(metrics = 'brier') just below 60")
add("brier_null", score$Brier$score[model == "Null model", Brier], "Score(...)$Brier, Null model")
add("ipa", score$Brier$score[model == "model", IPA], "Score(..., summary = 'ipa')$Brier$IPA")

# ---- calibration ---------------------------------------------------------------------------------------------------------
observed <- 1 - summary(survfit(Surv(time, event) ~ 1, data = ext), times = horizon)$surv
add("observed_risk", observed, "1 - summary(survfit(Surv(time, event) ~ 1), times = 60)$surv")
add("oe_ratio", observed / mean(risk), "observed_risk / mean(predictRisk(fit, times = 60))")
add("oe_ratio_breslow", observed / mean(ext$risk_breslow), "observed_risk / mean(Breslow-baseline risk)")
add("calibration_slope", coef(coxph(Surv(time, event) ~ lp, data = ext, control = ctrl))[[1]],
    "coef(coxph(Surv(time, event) ~ lp))")
error <- abs(ext$cal - risk)
add("ici", mean(error), "mean |survfit(coxph(Surv(time, event) ~ rcs(cll, 3))) risk at 60 - risk|")
add("e50", median(error), "median of the same")
add("e90", quantile(error, 0.9, names = FALSE), "quantile(., 0.9) of the same")
add("emax", max(error), "max of the same")
paper <- cph(Surv(time, event) ~ rcs(cll, 3), x = TRUE, y = TRUE, surv = TRUE, data = cal_data)
paper_error <- abs(1 - survest(paper, newdata = cal_data, times = horizon)$surv - risk)
add("ici_rms", mean(paper_error), "the tutorial's cph + survest (looser default convergence)")
add("emax_rms", max(paper_error), "the tutorial's cph + survest")
write.csv(do.call(rbind, metrics), file.path(out, "stratos_metrics.csv"), row.names = FALSE)

# ---- decision curve: the tutorial's direct Kaplan-Meier net benefit -------------------------------------------------------
km_risk <- function(rows) 1 - summary(survfit(Surv(time, event) ~ 1, data = ext[rows, ]), times = horizon)$surv
treat_all <- km_risk(rep(TRUE, nrow(ext)))
thresholds <- seq(0.01, 0.99, by = 0.01)
net_benefit <- sapply(thresholds, function(pt) {
  exceed <- risk > pt
  if (!any(exceed)) return(0)
  share <- mean(exceed)
  f <- tryCatch(km_risk(exceed), error = function(e) NA)  # nobody above the threshold followed to 60: NA
  f * share - (1 - f) * share * pt / (1 - pt)
})
write.csv(data.frame(threshold = fmt(thresholds), net_benefit = fmt(net_benefit),
                     treat_all = fmt(treat_all - (1 - treat_all) * thresholds / (1 - thresholds))),
          file.path(out, "stratos_net_benefit.csv"), row.names = FALSE, quote = FALSE)
