# brms on the patient-interval rows of a PWE model, for benchmarks/bench_pwe_fit.py (which times this script).
# Usage: Rscript benchmarks/bench_pwe_brms.R FOLDER DRAWS TUNE CHAINS; FOLDER holds patients.csv (time, event, arm,
# marker, arm:marker) and cuts.csv (cut). Vague priors as in the tmesurv fit; 2 cores.
suppressPackageStartupMessages({
  library(brms)
  library(survival)
})
args <- commandArgs(trailingOnly = TRUE)
folder <- args[1]
draws <- as.integer(args[2])
tune <- as.integer(args[3])
chains <- as.integer(args[4])
patients <- read.csv(file.path(folder, "patients.csv"), check.names = FALSE)
cuts <- read.csv(file.path(folder, "cuts.csv"))$cut
patients$id <- seq_len(nrow(patients))
rows <- survSplit(Surv(time, event) ~ arm + marker + id, data = patients, cut = cuts, episode = "interval")
rows$exposure <- rows$time - rows$tstart
rows$interval <- factor(rows$interval)
priors <- c(set_prior("normal(0, 10)", class = "b"))
fit <- brm(event ~ 0 + interval + arm * marker + offset(log(exposure)), data = rows, family = poisson(),
           prior = priors, chains = chains, cores = 2, iter = draws + tune, warmup = tune, refresh = 0, seed = 1)
cat(sprintf("brms draws %d\n", nrow(as.matrix(fit))))
