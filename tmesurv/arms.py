"""The arm labels of tmesurv's data contract (their own module: the figure code imports them without pandas)."""

TREATED, CONTROL = "treated", "control"
