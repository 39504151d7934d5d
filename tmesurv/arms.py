"""The arm labels of tmesurv's data contract, defined once; every module imports them from here (no pandas needed)."""

TREATED, CONTROL = "treated", "control"
