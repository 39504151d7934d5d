# Reference values for tests/models/cox/test_ph_test.py: R's cox.zph (survival >= 3.0) for every Cox model that
# `tmesurv cox` fits on tests/reference/veteran.yaml and colon.yaml, and for a few models on R's lung data (ties,
# strata, Breslow) that test the kernel on its own.
# Regenerate with:  Rscript tests/reference/cox_zph.R   (from the repository root; needs R's survival package >= 3.0)
# Writes
#   colon.csv                    R's colon, recurrence (etype 1), arms Lev+5FU (treated) and Obs (control)
#   cox_zph_r.csv                dataset, endpoint, analysis, subgroup, model, term, transform, chisq, df, p
#                                (model: the terms, as tmesurv's ph_test.csv names them)
#   cox_zph_residuals_r.csv      scaled Schoenfeld residuals (transform km) of the treatment and interaction models:
#                                dataset, endpoint, analysis, subgroup, term, event, time (days), transformed_time,
#                                residual (event = position in R's order: stratum, then time)
#   cox_zph_lung.csv             R's lung, complete cases of the columns used, ph.ecog 0-2 (one patient has 3)
#   cox_zph_lung_r.csv           model, transform, term, coef, chisq, df, p
#   cox_zph_lung_residuals_r.csv model, transform, event, time, transformed_time, term, residual
library(survival)
stopifnot(packageVersion("survival") >= "3.0")
out <- "tests/reference"
ctrl <- coxph.control(eps = 1e-11, iter.max = 100)
transforms <- c("km", "rank", "identity")

# ---- One model: fit with columns x1..xp (named terms in `terms`), test with every transform.
zph_rows <- function(d, X, terms, strata = NULL, ties = "efron", strata_name = NULL) {
  X <- as.matrix(X)
  colnames(X) <- paste0("x", seq_len(ncol(X)))
  frame <- data.frame(time = d$time, status = d$status, X)
  rhs <- paste(colnames(X), collapse = " + ")
  if (!is.null(strata)) {
    frame$s <- strata
    rhs <- paste(rhs, "+ strata(s)")
  }
  fit <- coxph(as.formula(paste("Surv(time, status) ~", rhs)), data = frame, ties = ties, control = ctrl)
  stopifnot(!any(is.na(coef(fit))))
  tables <- list()
  residuals <- NULL
  for (tr in transforms) {
    z <- cox.zph(fit, transform = tr)
    tables[[tr]] <- data.frame(term = c(terms, "GLOBAL"), transform = tr, coef = c(coef(fit), NA),
                               chisq = z$table[, "chisq"], df = z$table[, "df"], p = z$table[, "p"],
                               row.names = NULL)
    y <- z$y
    colnames(y) <- terms
    residuals <- rbind(residuals, data.frame(transform = tr, event = seq_along(z$time), time = z$time,
                                             transformed_time = z$x, stack(as.data.frame(y)), row.names = NULL))
  }
  names(residuals)[names(residuals) == "values"] <- "residual"
  names(residuals)[names(residuals) == "ind"] <- "term"
  model <- paste(c(terms, if (!is.null(strata)) strata_name), collapse = " + ")
  list(table = cbind(model = model, do.call(rbind, tables)), residuals = residuals)
}

# ---- Every model `tmesurv cox` fits (see veteran_cox.R, which this mirrors): treatment, treatment stratified by the
# config's strata, per biomarker the interaction model, per grouping the levels within each arm and the treatment
# effect within each level.
grouping <- function(name, kind, labels, levels, value = NULL) {
  label <- if (kind == "combined") {
    function(level) if (level == "yes") name else paste0("not (", name, ")")
  } else {
    function(level) paste0(name, "=", level)
  }
  list(name = name, kind = kind, labels = labels, levels = levels, label = label, value = value)
}
indicators <- function(g, keep) {
  x <- sapply(g$levels[-1], function(level) as.numeric(g$labels[keep] == level))
  matrix(x, nrow = sum(keep), dimnames = list(NULL, sapply(g$levels[-1], g$label)))
}
study_models <- function(d, groupings, strata) {
  models <- list(list(analysis = "treatment", subgroup = "all", keep = rep(TRUE, nrow(d)), X = cbind(arm = d$treated)))
  models[[2]] <- list(analysis = "treatment_stratified", subgroup = "all", keep = rep(TRUE, nrow(d)),
                      X = cbind(arm = d$treated), strata = strata)
  for (g in groupings) {
    if (g$kind == "biomarker") {
      X <- cbind(d$treated, g$value, d$treated * g$value)
      colnames(X) <- c("arm", g$name, paste0("arm:", g$name))
      models[[length(models) + 1]] <- list(analysis = "interaction", subgroup = g$name, keep = rep(TRUE, nrow(d)), X = X)
    }
    for (a in c("treated", "control")) {
      keep <- d$treated == (a == "treated")
      models[[length(models) + 1]] <- list(analysis = "within_arm", subgroup = a, keep = keep, X = indicators(g, keep))
    }
    for (level in g$levels) {
      keep <- g$labels == level
      models[[length(models) + 1]] <- list(analysis = "subgroup", subgroup = g$label(level), keep = keep,
                                           X = cbind(arm = d$treated[keep]))
    }
  }
  models
}
study_rows <- function(dataset, d, groupings, strata, strata_name) {
  tables <- list()
  residuals <- list()
  for (m in study_models(d, groupings, strata)) {
    rows <- zph_rows(d[m$keep, ], m$X, colnames(m$X), m$strata, strata_name = strata_name)
    label <- data.frame(dataset = dataset, endpoint = "os", analysis = m$analysis, subgroup = m$subgroup)
    tables[[length(tables) + 1]] <- cbind(label, rows$table[, c("model", "term", "transform", "chisq", "df", "p")])
    if (m$analysis %in% c("treatment", "treatment_stratified", "interaction")) {
      km <- rows$residuals[rows$residuals$transform == "km", c("term", "event", "time", "transformed_time", "residual")]
      residuals[[length(residuals) + 1]] <- cbind(label, km)
    }
  }
  list(table = do.call(rbind, tables), residuals = do.call(rbind, residuals))
}

# ---- veteran, analysed as veteran.yaml says (groupings as in veteran_cox.R)
vet <- read.csv(file.path(out, "veteran.csv"), stringsAsFactors = FALSE)
vet$treated <- as.numeric(vet$arm == "test")
two_level <- function(x, high) ifelse(x == high, "high", "low")
split_at <- function(x, threshold) ifelse(x > threshold, "high", "low")
quartile_levels <- function(x) {
  q <- quantile(x, c(0.25, 0.5, 0.75))  # type 7, as numpy's default
  ifelse(x <= q[1], "Q1", ifelse(x <= q[2], "Q2", ifelse(x <= q[3], "Q3", "Q4")))
}
karno_high <- split_at(vet$karno, median(vet$karno))
vet_groupings <- list(
  grouping("karno", "biomarker", karno_high, c("low", "high"), vet$karno),
  grouping("prior", "biomarker", two_level(vet$prior, 10), c("low", "high"), as.numeric(vet$prior == 10)),
  grouping("squamous", "biomarker", two_level(vet$squamous, "yes"), c("low", "high"), as.numeric(vet$squamous == "yes")),
  grouping("age", "biomarker", split_at(vet$age, 60), c("low", "high"), vet$age),
  grouping("diagtime", "biomarker", quartile_levels(vet$diagtime), c("Q1", "Q2", "Q3", "Q4"), vet$diagtime),
  grouping("karno=high & prior=low", "combined",
           ifelse(karno_high == "high" & vet$prior == 0, "yes", "no"), c("no", "yes")),
  grouping("celltype", "covariate", vet$celltype, sort(unique(vet$celltype)))
)
veteran <- study_rows("veteran", vet, vet_groupings, vet$celltype, "strata(celltype)")

# ---- colon: recurrence (etype 1), Lev+5FU against observation, days; as colon.yaml says
col <- subset(survival::colon, etype == 1 & rx != "Lev")
col <- data.frame(id = sprintf("C%04d", col$id), arm = as.character(col$rx), time = col$time, status = col$status,
                  node4 = col$node4, sex = ifelse(col$sex == 1, "male", "female"), age = col$age,
                  extent = col$extent, surg = col$surg)
write.csv(col, file.path(out, "colon.csv"), row.names = FALSE)
col$treated <- as.numeric(col$arm == "Lev+5FU")
col_groupings <- list(
  grouping("node4", "biomarker", two_level(col$node4, 1), c("low", "high"), col$node4),
  grouping("sex", "covariate", col$sex, sort(unique(col$sex)))
)
colon <- study_rows("colon", col, col_groupings, col$extent, "strata(extent)")

write.csv(rbind(veteran$table, colon$table), file.path(out, "cox_zph_r.csv"), row.names = FALSE)
write.csv(rbind(veteran$residuals, colon$residuals), file.path(out, "cox_zph_residuals_r.csv"), row.names = FALSE)

# ---- lung: the kernel alone, from R's coefficients (tied times; strata; Breslow; a covariate constant in some strata)
lung <- survival::lung[, c("time", "status", "age", "sex", "ph.ecog", "wt.loss")]
lung <- lung[complete.cases(lung) & lung$ph.ecog < 3, ]
lung <- data.frame(time = lung$time, status = lung$status - 1, age = lung$age, sex = lung$sex, ph_ecog = lung$ph.ecog,
                   wt_loss = lung$wt.loss)
lung$male_ecog1 <- as.numeric(lung$sex == 1 & lung$ph_ecog == 1)  # varies only in the ph_ecog = 1 stratum
write.csv(lung, file.path(out, "cox_zph_lung.csv"), row.names = FALSE)
lung_models <- list(
  efron = list(X = lung[, c("age", "sex", "wt_loss")], ties = "efron"),
  breslow = list(X = lung[, c("age", "sex", "wt_loss")], ties = "breslow"),
  stratified = list(X = lung[, c("age", "sex")], ties = "efron", strata = lung$ph_ecog),
  constant_in_strata = list(X = lung[, c("age", "male_ecog1")], ties = "efron", strata = lung$ph_ecog)
)
tables <- list()
residuals <- list()
for (name in names(lung_models)) {
  m <- lung_models[[name]]
  rows <- zph_rows(lung, m$X, colnames(m$X), m$strata, m$ties)
  tables[[name]] <- cbind(model = name, rows$table[, names(rows$table) != "model"])
  residuals[[name]] <- cbind(model = name, rows$residuals)
}
write.csv(do.call(rbind, tables), file.path(out, "cox_zph_lung_r.csv"), row.names = FALSE)
write.csv(do.call(rbind, residuals), file.path(out, "cox_zph_lung_residuals_r.csv"), row.names = FALSE)
