"""tmesurv: predictive-biomarker analysis of randomized trials with time-to-event endpoints.

>>> import tmesurv as ts
>>> cohort = ts.Cohort.from_config("analysis.yaml")  # or ts.Cohort.from_frame(df, ...)
>>> cox = ts.fit_cox(cohort)                          # .table is cox.csv; cox.write("results")
>>> pwe = ts.fit_pwe(cohort, draws=1000, seed=1)      # .table is bayes.csv, .idata the treatment posterior
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tmesurv")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

from tmesurv.api.bayes import PweResult, fit_pwe
from tmesurv.api.cox import CoxResult, fit_cox
from tmesurv.api.power import power
from tmesurv.api.report import report
from tmesurv.api.simulate import calibrate, demo, simulate
from tmesurv.api.validate import ValidationResult, validate
from tmesurv.cohort import Cohort, Exclusion
from tmesurv.errors import InputError
from tmesurv.simulations.power.study import PowerStudy

__all__ = [
    "Cohort",
    "CoxResult",
    "Exclusion",
    "InputError",
    "PowerStudy",
    "PweResult",
    "ValidationResult",
    "__version__",
    "calibrate",
    "demo",
    "fit_cox",
    "fit_pwe",
    "power",
    "report",
    "simulate",
    "validate",
]
