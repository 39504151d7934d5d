# Reference values for tests/models/screens/test_association.py: association screens on the committed ZUMA-7-like export.
# Regenerate with:  Rscript tests/reference/screens.R   (from the repository root; needs base R and survival)
# Reads zuma7_trial.csv and writes, with every number at 17 significant digits:
#   screens_cox.csv       coxph (Efron ties, Wald) per feature: EFS in each arm, DOR in the axi-cel arm
#   screens_wilcox.csv    wilcox.test (R's default exact/normal rule) ongoing response vs the rest, axi-cel arm; and
#                         on 30 patients (both groups < 50) so that R's exact P is used
#   screens_kruskal.csv   kruskal.test over response_group, axi-cel arm
#   screens_spearman.csv  cor.test(method = "spearman") R's default P (AS 89 exact / Edgeworth, t with ties) per
#                         pair of analytes, all patients; and on 8 patients (exact enumeration)
#   screens_logistic.csv  glm(binomial) for best_response == "CR", Wald P and confint.default, axi-cel arm (glm as
#                         run by default, and restarted at its estimate: see below)
# Every screen's q is p.adjust(p, "BH") within the screen.
library(survival)
out <- "tests/reference"
data <- read.csv(file.path(out, "zuma7_trial.csv"))
signatures <- grep("^sig_", names(data), value = TRUE)
others <- c("b_cell_ges", "bpi", "sii", "cluster3_index", "cluster4_index", "cd19_gene", "cd19_hscore", "spd_mm2",
            "ldh_ul")
features <- c(signatures, others)
analytes <- c("cd19_gene", "cd19_hscore", "spd_mm2", "ldh_ul", "b_cell_ges", "sii")
axi <- data[data$arm == "axi-cel", ]

write_full <- function(frame, file) {
  numeric <- vapply(frame, is.numeric, logical(1))
  frame[numeric] <- lapply(frame[numeric], function(x) ifelse(is.na(x), NA, sprintf("%.17g", x)))
  write.csv(frame, file.path(out, file), row.names = FALSE, na = "NA")
}

with_q <- function(rows) {
  frame <- do.call(rbind, rows)
  frame$q <- p.adjust(frame$p, "BH")
  frame
}

ctrl <- coxph.control(eps = 1e-10, iter.max = 100)
cox_rows <- function(d, time, event, screen) {
  rows <- lapply(features, function(f) {
    keep <- !is.na(d[[f]]) & !is.na(d[[time]]) & !is.na(d[[event]])
    fit <- coxph(Surv(d[[time]][keep], d[[event]][keep]) ~ d[[f]][keep], ties = "efron", control = ctrl)
    s <- summary(fit)
    data.frame(screen = screen, feature = f, n = fit$n, events = fit$nevent, coef = s$coefficients[1, "coef"],
               se = s$coefficients[1, "se(coef)"], hr = s$conf.int[1, "exp(coef)"],
               hr_lower = s$conf.int[1, "lower .95"], hr_upper = s$conf.int[1, "upper .95"],
               p = s$coefficients[1, "Pr(>|z|)"])
  })
  with_q(rows)
}
cox <- rbind(cox_rows(axi, "efs_time", "efs_event", "efs_axi-cel"),
             cox_rows(data[data$arm == "SOC", ], "efs_time", "efs_event", "efs_SOC"),
             cox_rows(axi, "dor_time", "dor_event", "dor_axi-cel"))
write_full(cox, "screens_cox.csv")

wilcox_rows <- function(d, screen) {
  g <- factor(ifelse(d$response_group == "ongoing", "ongoing", "other"), levels = c("ongoing", "other"))
  rows <- lapply(features, function(f) {
    x <- d[[f]]
    test <- suppressWarnings(wilcox.test(x ~ g))  # "cannot compute exact p-value with ties" is expected
    in_group <- x[g == "ongoing" & !is.na(x)]
    rest <- x[g == "other" & !is.na(x)]
    data.frame(screen = screen, feature = f, n_group = length(in_group), n_rest = length(rest),
               statistic = unname(test$statistic), median_group = median(in_group), median_rest = median(rest),
               median_difference = median(in_group) - median(rest), p = test$p.value,
               method = ifelse(grepl("exact", test$method), "exact", "normal"))
  })
  with_q(rows)
}
subset30 <- axi[!is.na(axi$sig_b_cells), ][1:30, ]
write_full(rbind(wilcox_rows(axi, "ongoing_axi-cel"), wilcox_rows(subset30, "ongoing_subset30")),
           "screens_wilcox.csv")

levels_ <- c("no_response", "ongoing", "relapsed")
kruskal <- with_q(lapply(features, function(f) {
  x <- axi[[f]]
  g <- axi$response_group
  test <- kruskal.test(x, g)
  ok <- !is.na(x)
  medians <- tapply(x[ok], factor(g[ok], levels = levels_), median)
  data.frame(feature = f, n = sum(ok), groups = length(unique(g[ok])), statistic = unname(test$statistic),
             df = unname(test$parameter), p = test$p.value, median_no_response = medians[["no_response"]],
             median_ongoing = medians[["ongoing"]], median_relapsed = medians[["relapsed"]])
}))
write_full(kruskal, "screens_kruskal.csv")

spearman_rows <- function(d, screen) {
  pairs <- combn(analytes, 2)
  rows <- lapply(seq_len(ncol(pairs)), function(j) {
    x <- d[[pairs[1, j]]]
    y <- d[[pairs[2, j]]]
    test <- suppressWarnings(cor.test(x, y, method = "spearman"))  # "cannot compute exact p-value with ties"
    ok <- complete.cases(x, y)
    data.frame(screen = screen, x = pairs[1, j], y = pairs[2, j], n = sum(ok), rho = unname(test$estimate),
               S = unname(test$statistic), p = test$p.value)
  })
  with_q(rows)
}
subset8 <- data[complete.cases(data[analytes]), ][1:8, ]
write_full(rbind(spearman_rows(data, "all"), spearman_rows(subset8, "subset8")), "screens_spearman.csv")

# glm's standard errors come from the IRLS weights at the start of its last iteration, a step before the converged
# coefficients (about 2e-7 relative off here, whatever epsilon). fit = "default" is glm as users run it; fit = "at_mle"
# restarts glm at its own estimate, so the weights, and the standard errors, are those at the maximum.
logistic_rows <- function(at_mle) {
  with_q(lapply(features, function(f) {
    keep <- !is.na(axi[[f]])
    y <- as.numeric(axi$best_response[keep] == "CR")
    x <- axi[[f]][keep]
    fit <- glm(y ~ x, family = binomial)
    if (at_mle) fit <- glm(y ~ x, family = binomial, start = coef(fit))
    s <- summary(fit)$coefficients
    ci <- confint.default(fit)
    data.frame(fit = if (at_mle) "at_mle" else "default", feature = f, n = length(y), events = sum(y),
               coef = s["x", "Estimate"], se = s["x", "Std. Error"], odds_ratio = exp(s["x", "Estimate"]),
               or_lower = exp(ci["x", 1]), or_upper = exp(ci["x", 2]), p = s["x", "Pr(>|z|)"])
  }))
}
write_full(rbind(logistic_rows(FALSE), logistic_rows(TRUE)), "screens_logistic.csv")
