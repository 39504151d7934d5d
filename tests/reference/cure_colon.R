# Reference values for tests/models/pwe/cure/test_colon.py: frequentist mixture-cure fits of R's colon (recurrence),
# maximised here with optim and Newton steps (numDeriv), independent of tmesurv's Python code. Neither smcure nor
# flexsurvcure is installable where this was written (no CRAN access; Debian packages neither), so the likelihood is
# written out: S(t | x) = pi(x) + (1 - pi(x)) S_u(t | x), logit pi(x) = a + x . g (incidence), and for the uncured
#   pwe:     a piecewise-exponential proportional-hazards model, 8 intervals cut at the (1/8, ..., 7/8) quantiles of
#            the event times (R's default type 7 = numpy's linear), hazard exp(log h_k + x . b) -- tmesurv's latency;
#   weibull: a Weibull proportional-hazards model, S_u = exp(-exp(x . b) (t / scale)^shape) (for comparison only).
# Data: tests/reference/colon.csv (written by cox_zph.R: colon, etype 1, Lev+5FU against Obs, time in days).
# Models: "arm" (x = arm) and "arm_node4" (x = arm, node4, arm:node4).
# Regenerate with:  Rscript tests/reference/cure_colon.R   (from the repository root; needs numDeriv)
# Writes
#   cure_colon_r.csv   model, latency, parameter, estimate, se (parameters on the original scale: cure_intercept,
#                      cure:<term>, latency:<term>, log_hazard_<k> or log_shape/log_scale; se from the Hessian), and
#                      rows cure_fraction:<arm>[:node4=<v>] with the delta-method se, and loglik
library(numDeriv)
out <- "tests/reference"
col <- read.csv(file.path(out, "colon.csv"))
col$arm01 <- as.numeric(col$arm == "Lev+5FU")
time <- col$time
event <- col$status
designs <- list(
  arm = cbind(arm = col$arm01),
  arm_node4 = cbind(arm = col$arm01, node4 = col$node4, `arm:node4` = col$arm01 * col$node4)
)
cuts <- unique(quantile(time[event == 1], (1:7) / 8, type = 7, names = FALSE))
cuts <- cuts[cuts > 0]
starts <- c(0, cuts)
ends <- c(cuts, Inf)
exposure <- pmax(outer(time, ends, pmin) - matrix(starts, length(time), length(starts), byrow = TRUE), 0)
interval <- findInterval(time, cuts, left.open = TRUE) + 1  # (c_{k-1}, c_k]

mixture_loglik <- function(log_density_uncured, log_survival_uncured, logit) {
  log_cured <- -log1p(exp(-logit))
  log_uncured <- -log1p(exp(logit))
  censored <- pmax(log_cured, log_uncured + log_survival_uncured)
  censored <- censored + log(exp(log_cured - censored) + exp(log_uncured + log_survival_uncured - censored))
  sum(ifelse(event == 1, log_uncured + log_density_uncured, censored))
}

loglik <- function(theta, x, latency) {
  p <- ncol(x)
  logit <- theta[1] + x %*% theta[2:(1 + p)]
  eta <- as.vector(x %*% theta[(2 + p):(1 + 2 * p)])
  rest <- theta[(2 + 2 * p):length(theta)]
  if (latency == "pwe") {
    cumulative <- as.vector(exposure %*% exp(rest)) * exp(eta)
    log_hazard <- rest[interval] + eta
  } else {
    shape <- exp(rest[1])
    scale <- exp(rest[2])
    cumulative <- exp(eta) * (time / scale)^shape
    log_hazard <- eta + log(shape / scale) + (shape - 1) * log(time / scale)
  }
  mixture_loglik(log_hazard - cumulative, -cumulative, as.vector(logit))
}

fit <- function(x, latency) {
  p <- ncol(x)
  crude <- log(sum(event) / sum(time))
  rest <- if (latency == "pwe") rep(crude, length(starts)) else c(0, -crude)
  theta <- c(0, rep(0, 2 * p), rest)
  negative <- function(theta) -loglik(theta, x, latency)
  opt <- optim(theta, negative, method = "BFGS", control = list(maxit = 20000, reltol = 1e-15))
  theta <- opt$par
  for (step in 1:20) {  # Newton steps on Richardson-extrapolated derivatives
    g <- grad(negative, theta)
    h <- hessian(negative, theta)
    theta <- theta - solve(h, g)
    if (max(abs(g)) < 1e-9) break
  }
  h <- hessian(negative, theta)
  list(theta = theta, cov = solve(h), loglik = -negative(theta), gradient = max(abs(grad(negative, theta))))
}

rows <- list()
for (name in names(designs)) {
  x <- designs[[name]]
  p <- ncol(x)
  for (latency in c("pwe", "weibull")) {
    if (name == "arm_node4" && latency == "weibull") next
    result <- fit(x, latency)
    stopifnot(result$gradient < 1e-6)
    rest <- if (latency == "pwe") sprintf("log_hazard_%d", seq_along(starts) - 1) else c("log_shape", "log_scale")
    names <- c("cure_intercept", paste0("cure:", colnames(x)), paste0("latency:", colnames(x)), rest)
    rows[[length(rows) + 1]] <- data.frame(model = name, latency = latency, parameter = names,
                                           estimate = result$theta, se = sqrt(diag(result$cov)))
    levels <- if (name == "arm") list(list(label = "", row = function(a) c(1, a)))
              else lapply(c(0, 1), function(v) list(label = sprintf(":node4=%d", v), row = function(a) c(1, a, v, a * v)))
    for (level in levels) {
      for (arm in c(0, 1)) {
        z <- level$row(arm)
        index <- 1:(1 + p)
        logit <- sum(z * result$theta[index])
        pi <- 1 / (1 + exp(-logit))
        se <- pi * (1 - pi) * sqrt(as.numeric(t(z) %*% result$cov[index, index] %*% z))
        label <- paste0("cure_fraction:", if (arm == 1) "treated" else "control", level$label)
        rows[[length(rows) + 1]] <- data.frame(model = name, latency = latency, parameter = label, estimate = pi,
                                               se = se)
      }
    }
    rows[[length(rows) + 1]] <- data.frame(model = name, latency = latency, parameter = "loglik",
                                           estimate = result$loglik, se = NA)
  }
}
write.csv(do.call(rbind, rows), file.path(out, "cure_colon_r.csv"), row.names = FALSE)
