# Reference values for tests/models/cox/test_reference.py: tmesurv's Cox, Kaplan-Meier and log-rank tables on
# R's survival::veteran data, analysed as tests/reference/veteran.yaml says.
# Regenerate with:  Rscript tests/reference/veteran_cox.R   (from the repository root; needs R's survival package)
# Writes veteran.csv (the data), veteran_cox.csv (rows of cox.csv), veteran_interactions.csv (rows of
# interactions.csv), veteran_km.csv and veteran_km_log.csv (rows of km.csv, log-log and log intervals) and
# veteran_logrank.csv (rows of logrank.csv).
library(survival)
out <- "tests/reference"
days_per_month <- 365.25 / 12

vet <- survival::veteran
vet$id <- sprintf("V%03d", seq_len(nrow(vet)))
vet$arm <- ifelse(vet$trt == 2, "test", "standard")
vet$squamous <- ifelse(vet$celltype == "squamous", "yes", "no")
data <- vet[, c("id", "arm", "time", "status", "karno", "prior", "squamous", "age", "diagtime", "celltype")]
write.csv(data, file.path(out, "veteran.csv"), row.names = FALSE)

ctrl <- coxph.control(eps = 1e-10, iter.max = 100)
vet$treated <- as.numeric(vet$arm == "test")
z <- qnorm(0.975)

# ---- Groupings, as in veteran.yaml: karno at the median, age at 60, diagtime at quartiles, prior and squamous two
# levels; the combined subgroup karno high & prior low; celltype levels. First level = reference.
two_level <- function(x, high) ifelse(x == high, "high", "low")
split_at <- function(x, threshold) ifelse(x > threshold, "high", "low")
quartile_levels <- function(x) {
  q <- quantile(x, c(0.25, 0.5, 0.75))  # type 7, as numpy's default
  ifelse(x <= q[1], "Q1", ifelse(x <= q[2], "Q2", ifelse(x <= q[3], "Q3", "Q4")))
}
grouping <- function(name, kind, labels, levels, value = NULL) {
  label <- if (kind == "combined") {
    function(level) if (level == "yes") name else paste0("not (", name, ")")
  } else {
    function(level) paste0(name, "=", level)
  }
  list(name = name, kind = kind, labels = labels, levels = levels, label = label, value = value)
}
karno_high <- split_at(vet$karno, median(vet$karno))
groupings <- list(
  grouping("karno", "biomarker", karno_high, c("low", "high"), vet$karno),
  grouping("prior", "biomarker", two_level(vet$prior, 10), c("low", "high"), NULL),
  grouping("squamous", "biomarker", two_level(vet$squamous, "yes"), c("low", "high"), NULL),
  grouping("age", "biomarker", split_at(vet$age, 60), c("low", "high"), vet$age),
  grouping("diagtime", "biomarker", quartile_levels(vet$diagtime), c("Q1", "Q2", "Q3", "Q4"), vet$diagtime),
  grouping("karno=high & prior=low", "combined",
           ifelse(karno_high == "high" & vet$prior == 0, "yes", "no"), c("no", "yes")),
  grouping("celltype", "covariate", as.character(vet$celltype), sort(unique(as.character(vet$celltype))))
)
# Two-level biomarkers enter the continuous interaction model as their 0/1 coding.
coded <- list(prior = as.numeric(vet$prior == 10), squamous = as.numeric(vet$squamous == "yes"))

# ---- Cox rows (cox.csv)
counts <- function(d) {
  data.frame(n = nrow(d), events = sum(d$status), n_treated = sum(d$treated), events_treated = sum(d$status * d$treated),
             n_control = sum(1 - d$treated), events_control = sum(d$status * (1 - d$treated)))
}
tidy <- function(fit, d, analysis, subgroup, terms) {
  s <- summary(fit)$coefficients
  cbind(data.frame(endpoint = "os", analysis = analysis, subgroup = subgroup, term = terms), counts(d),
        data.frame(coef = s[, "coef"], se = s[, "se(coef)"], hr = exp(s[, "coef"]),
                   hr_lower = exp(s[, "coef"] - z * s[, "se(coef)"]), hr_upper = exp(s[, "coef"] + z * s[, "se(coef)"]),
                   p = s[, "Pr(>|z|)"]), row.names = NULL)
}
fit_terms <- function(d, x, analysis, subgroup, terms) {
  fit <- coxph(Surv(d$time, d$status) ~ x, ties = "efron", control = ctrl)
  tidy(fit, d, analysis, subgroup, terms)
}
indicators <- function(g, keep) {
  x <- sapply(g$levels[-1], function(level) as.numeric(g$labels[keep] == level))
  matrix(x, nrow = sum(keep), dimnames = list(NULL, sapply(g$levels[-1], g$label)))
}

rows <- list(fit_terms(vet, vet$treated, "treatment", "all", "arm"))
stratified <- coxph(Surv(time, status) ~ treated + strata(celltype), data = vet, ties = "efron", control = ctrl)
rows[[2]] <- tidy(stratified, vet, "treatment_stratified", "all", "arm")
for (g in groupings) {
  if (g$kind == "biomarker") {
    x <- if (is.null(g$value)) coded[[g$name]] else g$value
    design <- cbind(vet$treated, x, vet$treated * x)
    rows[[length(rows) + 1]] <- fit_terms(vet, design, "interaction", g$name, c("arm", g$name, paste0("arm:", g$name)))
  }
  for (a in c("treated", "control")) {
    keep <- vet$treated == (a == "treated")
    x <- indicators(g, keep)
    rows[[length(rows) + 1]] <- fit_terms(vet[keep, ], x, "within_arm", a, colnames(x))
  }
  for (level in g$levels) {
    keep <- g$labels == level
    rows[[length(rows) + 1]] <- fit_terms(vet[keep, ], vet$treated[keep], "subgroup", g$label(level), "arm")
  }
}
write.csv(do.call(rbind, rows), file.path(out, "veteran_cox.csv"), row.names = FALSE)

# ---- Interaction tests (interactions.csv): Wald on the interaction terms, and likelihood ratio against the model
# without them (anova of the two nested coxph fits).
interaction_row <- function(g, scale, main) {
  interaction <- main[, -1, drop = FALSE] * vet$treated
  colnames(interaction) <- paste0("arm:", colnames(main)[-1])
  reduced <- coxph(Surv(vet$time, vet$status) ~ main, ties = "efron", control = ctrl)
  full <- coxph(Surv(vet$time, vet$status) ~ main + interaction, ties = "efron", control = ctrl)
  terms <- (ncol(main) + 1):(ncol(main) + ncol(interaction))
  b <- coef(full)[terms]
  wald <- as.numeric(t(b) %*% solve(vcov(full)[terms, terms]) %*% b)
  lrt <- anova(reduced, full)
  df <- ncol(interaction)
  data.frame(endpoint = "os", grouping = g$name, scale = scale, n = nrow(vet), events = sum(vet$status), df = df,
             wald_chisq = wald, wald_p = pchisq(wald, df, lower.tail = FALSE),
             lrt_chisq = lrt$Chisq[2], lrt_p = lrt$`Pr(>|Chi|)`[2])
}
tests <- list()
for (g in groupings) {
  if (!is.null(g$value)) {
    main <- cbind(arm = vet$treated, value = g$value)
    tests[[length(tests) + 1]] <- interaction_row(g, "continuous", main)
  }
  everyone <- rep(TRUE, nrow(vet))
  main <- cbind(arm = vet$treated, indicators(g, everyone))
  tests[[length(tests) + 1]] <- interaction_row(g, "groups", main)
}
write.csv(do.call(rbind, tests), file.path(out, "veteran_interactions.csv"), row.names = FALSE)

# ---- Kaplan-Meier per arm, overall and per arm x subgroup (km.csv)
landmarks <- c(6, 12, 24)
km_rows <- function(d, a, subgroup, ci) {
  fit <- survfit(Surv(time / days_per_month, status) ~ 1, data = d, conf.type = ci)
  q <- quantile(fit, probs = 0.5)
  s <- summary(fit, times = landmarks, extend = TRUE)
  # Beyond the last follow-up time the curve is unknown (tmesurv reports NA) unless it has reached zero.
  beyond <- landmarks > max(d$time / days_per_month) & s$surv > 0
  s$surv[beyond] <- NA
  s$lower[beyond] <- NA
  s$upper[beyond] <- NA
  rbind(
    data.frame(endpoint = "os", arm = a, subgroup = subgroup, statistic = "median", time = NA,
               estimate = unname(q$quantile), lower = unname(q$lower), upper = unname(q$upper), n = nrow(d),
               events = sum(d$status), ci_method = ci),
    data.frame(endpoint = "os", arm = a, subgroup = subgroup, statistic = "survival", time = landmarks,
               estimate = s$surv, lower = s$lower, upper = s$upper, n = nrow(d), events = sum(d$status),
               ci_method = ci))
}
parts <- list(list(subgroup = "all", keep = rep(TRUE, nrow(vet))))
for (g in groupings) {
  for (level in g$levels) parts[[length(parts) + 1]] <- list(subgroup = g$label(level), keep = g$labels == level)
}
for (ci in c("log-log", "log")) {
  km <- list()
  for (part in parts) {
    for (a in c("treated", "control")) {
      keep <- part$keep & vet$treated == (a == "treated")
      km[[length(km) + 1]] <- km_rows(vet[keep, ], a, part$subgroup, ci)
    }
  }
  file <- if (ci == "log-log") "veteran_km.csv" else "veteran_km_log.csv"
  write.csv(do.call(rbind, km), file.path(out, file), row.names = FALSE)
}

# ---- Log-rank (survdiff, rho = 0): arm overall and within each subgroup; each grouping's levels within each arm
logrank_row <- function(d, group, comparison, subgroup) {
  test <- survdiff(Surv(d$time, d$status) ~ group)
  df <- length(unique(group)) - 1
  data.frame(endpoint = "os", comparison = comparison, subgroup = subgroup, n = nrow(d), events = sum(d$status),
             chisq = test$chisq, df = df, p = pchisq(test$chisq, df, lower.tail = FALSE))
}
lr <- list(logrank_row(vet, vet$treated, "arm", "all"))
for (g in groupings) {
  for (level in g$levels) {
    keep <- g$labels == level
    lr[[length(lr) + 1]] <- logrank_row(vet[keep, ], vet$treated[keep], "arm", g$label(level))
  }
  for (a in c("treated", "control")) {
    keep <- vet$treated == (a == "treated")
    lr[[length(lr) + 1]] <- logrank_row(vet[keep, ], g$labels[keep], g$name, a)
  }
}
write.csv(do.call(rbind, lr), file.path(out, "veteran_logrank.csv"), row.names = FALSE)
