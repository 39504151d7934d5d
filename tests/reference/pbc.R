# Export R's survival::pbc (Mayo Clinic primary biliary cholangitis trial) for the Bayesian sampler checks:
# the 312 randomised patients, D-penicillamine ("treated") against placebo ("control"); death is the event
# (status 2), transplant (status 1) and alive (status 0) are censored. Times in days.
# Run: Rscript tests/reference/pbc.R  (writes tests/reference/pbc.csv; pbc.yaml reads it)
library(survival)

out <- file.path(dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))))
d <- survival::pbc[!is.na(survival::pbc$trt), ]
export <- data.frame(
  id = sprintf("P%03d", d$id),
  arm = ifelse(d$trt == 1, "D-penicillamine", "placebo"),
  time = d$time,
  status = as.integer(d$status == 2),
  bili = d$bili,
  albumin = d$albumin,
  age = round(d$age, 2),
  sex = as.character(d$sex),
  stage = d$stage
)
write.csv(export, file.path(out, "pbc.csv"), row.names = FALSE)
cat(nrow(export), "patients,", sum(export$status), "deaths\n")
