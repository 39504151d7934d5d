"""tmesurv: predictive-biomarker analysis of randomized trials with time-to-event endpoints."""

from importlib.metadata import PackageNotFoundError, version

from tmesurv.cohort import Cohort, Exclusion
from tmesurv.errors import InputError

try:
    __version__ = version("tmesurv")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["Cohort", "Exclusion", "InputError", "__version__"]
