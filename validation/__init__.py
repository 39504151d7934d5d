"""Scoring a fitted model on an external cohort (discrimination, calibration, predicted benefit).

Layers: numpy estimators that take case weights ``(B, n)`` and so evaluate all bootstrap replicates in one pass
(:mod:`~tmesurv.validation.discrimination`, :mod:`~tmesurv.validation.brier`,
:mod:`~tmesurv.validation.calibration`, :mod:`~tmesurv.validation.benefit`, :mod:`~tmesurv.validation.case_mix`,
on the weighted Kaplan-Meier machinery of :mod:`~tmesurv.validation.ipcw`); resampling, intervals and the row format
(:mod:`~tmesurv.validation.bootstrap`); and the table of ``validation.csv`` (:mod:`~tmesurv.validation.score`).
Each estimator's docstring names the R function (survival, riskRegression, rms) or scikit-survival function it
equals; ``tests/reference/validation_reference.R`` makes the reference values.
"""
