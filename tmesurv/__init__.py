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

from typing import TYPE_CHECKING

from tmesurv.errors import InputError
from tmesurv.lazy_names import lazy_names

if TYPE_CHECKING:
    from tmesurv.api.bayes import PweResult, fit_pwe
    from tmesurv.api.cox import CoxResult, fit_cox
    from tmesurv.api.power import power
    from tmesurv.api.report import report
    from tmesurv.api.simulate import calibrate, demo, simulate
    from tmesurv.api.validate import ValidationResult, validate
    from tmesurv.cohort import Cohort, Exclusion
    from tmesurv.simulations.power.study import PowerStudy

# The API's names are imported when first used: the CLI and `import tmesurv` then start without loading pandas, PyMC,
# ArviZ, lifelines, the config schema and the simulation harness that a command does not need.
_LAZY = {
    "Cohort": "tmesurv.cohort",
    "Exclusion": "tmesurv.cohort",
    "PweResult": "tmesurv.api.bayes",
    "fit_pwe": "tmesurv.api.bayes",
    "CoxResult": "tmesurv.api.cox",
    "fit_cox": "tmesurv.api.cox",
    "power": "tmesurv.api.power",
    "report": "tmesurv.api.report",
    "calibrate": "tmesurv.api.simulate",
    "demo": "tmesurv.api.simulate",
    "simulate": "tmesurv.api.simulate",
    "ValidationResult": "tmesurv.api.validate",
    "validate": "tmesurv.api.validate",
    "PowerStudy": "tmesurv.simulations.power.study",
}


__getattr__ = lazy_names(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)


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
