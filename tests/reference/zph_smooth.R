# Reference values for tests/reports/sections/test_ph.py: the smooth and band that R's plot.cox.zph draws through the
# scaled Schoenfeld residuals (survival >= 3.0; df = 4, nsmo = 40, se = TRUE), for the treatment and interaction
# models of tests/reference/veteran.yaml (the fits and residuals of cox_zph.R and veteran_cox.R).
# Regenerate with:  Rscript tests/reference/zph_smooth.R   (from the repository root; needs R's survival package)
# Writes
#   zph_smooth_r.csv   analysis, subgroup, term, point (1..40), x (transformed time), fit, lower, upper
# The lines computing fit, lower and upper are those of survival:::plot.cox.zph (which draws and returns nothing),
# run on cox.zph(fit, transform = "km").
library(survival)
library(splines)
stopifnot(packageVersion("survival") >= "3.0")
out <- "tests/reference"
ctrl <- coxph.control(eps = 1e-11, iter.max = 100)

vet <- read.csv(file.path(out, "veteran.csv"), stringsAsFactors = FALSE)
vet$treated <- as.numeric(vet$arm == "test")

smooth_rows <- function(fit, analysis, subgroup, terms, df = 4, nsmo = 40) {
  x <- cox.zph(fit, transform = "km")
  xx <- x$x
  yy <- x$y
  pred.x <- seq(from = min(xx), to = max(xx), length = nsmo)
  temp <- c(pred.x, xx)
  lmat <- ns(temp, df = df, intercept = TRUE)
  pmat <- lmat[1:nsmo, ]
  xmat <- lmat[-(1:nsmo), ]
  rows <- list()
  for (i in seq_along(terms)) {
    y <- yy[, i]
    keep <- !is.na(y)
    qmat <- qr(xmat[keep, ])
    yhat <- pmat %*% qr.coef(qmat, y[keep])
    bk <- backsolve(qmat$qr[1:df, 1:df], diag(df))
    xtx <- bk %*% t(bk)
    seval <- ((pmat %*% xtx) * pmat) %*% rep(1, df)
    half <- 2 * sqrt(x$var[i, i] * seval)
    rows[[i]] <- data.frame(analysis = analysis, subgroup = subgroup, term = terms[i], point = seq_len(nsmo),
                            x = pred.x, fit = as.vector(yhat), lower = as.vector(yhat - half),
                            upper = as.vector(yhat + half))
  }
  do.call(rbind, rows)
}

treatment <- coxph(Surv(time, status) ~ treated, data = vet, ties = "efron", control = ctrl)
stratified <- coxph(Surv(time, status) ~ treated + strata(celltype), data = vet, ties = "efron", control = ctrl)
karno <- coxph(Surv(time, status) ~ treated + karno + I(treated * karno), data = vet, ties = "efron", control = ctrl)
age <- coxph(Surv(time, status) ~ treated + age + I(treated * age), data = vet, ties = "efron", control = ctrl)
rows <- rbind(
  smooth_rows(treatment, "treatment", "all", "arm"),
  smooth_rows(stratified, "treatment_stratified", "all", "arm"),
  smooth_rows(karno, "interaction", "karno", c("arm", "karno", "arm:karno")),
  smooth_rows(age, "interaction", "age", c("arm", "age", "arm:age"))
)
write.csv(rows, file.path(out, "zph_smooth_r.csv"), row.names = FALSE)
