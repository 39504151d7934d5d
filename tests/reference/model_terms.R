# Reference values for tests/models/prediction/test_transforms.py and tests/validation/test_model_terms.py: model
# terms with stored transformations (rms::rcs knots and basis, log, winsorising, factor dummies) and a Cox model that
# uses them, developed on R's survival::rotterdam and applied to survival::gbsg.
# Regenerate with:  Rscript tests/reference/model_terms.R   (from the repository root)
# Needs R's survival and rms (Hmisc).
#
# Writes
#   model_terms_rcs_data.csv    columns of constructed values (normal, n < 100, a common lowest value, common values
#                               at both ends, few distinct values, and R's colon$age) for the knot rules
#   model_terms_rcs_knots.csv   case, k, knot, value: knots of rms::rcs(x, k) (Hmisc::rcspline.eval defaults)
#   model_terms_rcs_basis.csv   case, k, column, row, value: the basis of rms::rcs(x, k) (column 0 = x)
#   model_terms_development.csv rotterdam, node-positive: id, arm (hormon), time (years), event, covariates
#   model_terms_external.csv    gbsg: the same columns, and the model's linear predictor lp (R predict, type "lp",
#                               centred at the development design means, as tmesurv centres it)
#   model_terms_coef.csv        term, coef, se of the Cox model (Efron), in R's naming
suppressPackageStartupMessages({
  library(survival)
  library(rms)
})
out <- "tests/reference"
fmt <- function(x) sprintf("%.17g", x)
ctrl <- coxph.control(eps = 1e-10, toler.chol = 1e-12, iter.max = 100)

# ---- knots and basis of rms::rcs --------------------------------------------------------------------------------
set.seed(20261204)
n <- 300
cases <- data.frame(
  normal = rnorm(n, 50, 10),
  tied_low = c(rep(0, 40), round(rexp(n - 40, 0.2), 3)),
  tied_both = c(rep(0, 30), round(runif(n - 60, 0, 1), 4), rep(1, 30)),
  few = sample(1:5, n, replace = TRUE),
  colon_age = read.csv(file.path(out, "colon.csv"))$age[1:n]
)
small <- data.frame(small = round(runif(60, 10, 20), 3))
knots <- list()
basis <- list()
add <- function(case, x, k) {
  b <- suppressWarnings(rcs(x, k))
  t <- attr(b, "parms")
  knots[[length(knots) + 1]] <<- data.frame(case = case, k = k, knot = seq_along(t) - 1, value = fmt(t))
  m <- unclass(b)
  for (j in seq_len(ncol(m))) {
    basis[[length(basis) + 1]] <<- data.frame(case = case, k = k, column = j - 1, row = seq_len(nrow(m)) - 1,
                                              value = fmt(m[, j]))
  }
}
for (k in 3:7) add("normal", cases$normal, k)
for (k in 4:5) add("tied_low", cases$tied_low, k)
add("tied_both", cases$tied_both, 5)
add("few", cases$few, 4)
for (k in 3:5) add("colon_age", cases$colon_age, k)
for (k in 3:4) add("small", small$small, k)
data <- cbind(row = seq_len(n) - 1, cases)
data$small <- c(small$small, rep(NA, n - 60))
write.csv(data, file.path(out, "model_terms_rcs_data.csv"), row.names = FALSE, na = "")
write.csv(do.call(rbind, knots), file.path(out, "model_terms_rcs_knots.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, basis), file.path(out, "model_terms_rcs_basis.csv"), row.names = FALSE, quote = FALSE)

# ---- a Cox model with transformed terms: rotterdam (node-positive) -> gbsg ---------------------------------------
prepare <- function(d, id, time, event) {
  data.frame(id = id, arm = ifelse(d$hormon == 1, "hormon", "none"), time = time, event = event, age = d$age,
             size = as.character(d$size), grade = d$grade, nodes = d$nodes, pgr = d$pgr, er = d$er)
}
rott <- subset(rotterdam, nodes > 0)
dev <- prepare(rott, paste0("R", rott$pid), ifelse(rott$recur == 1, rott$rtime, rott$dtime) / 365.25,
               pmax(rott$recur, rott$death))
gb <- gbsg
gb$size <- cut(gb$size, c(-Inf, 20, 50, Inf), labels = levels(rotterdam$size))
ext <- prepare(gb, paste0("G", gb$pid), gb$rfstime / 365.25, gb$status)
write.csv(dev, file.path(out, "model_terms_development.csv"), row.names = FALSE)
dev <- read.csv(file.path(out, "model_terms_development.csv"))  # the model is fitted on the data as written
dev$size <- factor(dev$size, levels = levels(rotterdam$size))
age_knots <- attr(rcs(dev$age, 4), "parms")
er_knots <- attr(rcs(log(pmin(pmax(dev$er, 1), 2000)), 3), "parms")
fit <- coxph(Surv(time, event) ~ hormon + rcs(age, age_knots) + size + log(nodes) + pmin(pmax(pgr, 0), 1000) +
               rcs(log(pmin(pmax(er, 1), 2000)), er_knots) + hormon:pmin(pmax(pgr, 0), 1000) + hormon:log(nodes),
             data = transform(dev, hormon = as.numeric(arm == "hormon")), control = ctrl, ties = "efron")
ext$size <- factor(ext$size, levels = levels(rotterdam$size))
# centred at the development design means (survival >= 3 centres only the columns that are not 0/1 in fit$means)
centre <- sum(colMeans(model.matrix(fit)) * coef(fit))
ext$lp <- fmt(predict(fit, newdata = transform(ext, hormon = as.numeric(arm == "hormon")), type = "lp",
                      reference = "zero") - centre)
write.csv(ext, file.path(out, "model_terms_external.csv"), row.names = FALSE)
write.csv(data.frame(term = names(coef(fit)), coef = fmt(coef(fit)), se = fmt(sqrt(diag(vcov(fit))))),
          file.path(out, "model_terms_coef.csv"), row.names = FALSE)
