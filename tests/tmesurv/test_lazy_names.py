"""Names imported on first use: the package and the tmesurv packages that use them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tmesurv.lazy_names import lazy_names


def test_a_name_is_imported_on_first_use_and_kept_in_the_package():
    script = (
        "import sys\n"
        "import tmesurv\n"
        "print('tmesurv.api.cox' in sys.modules)\n"
        "fit_cox = tmesurv.fit_cox\n"
        "print('tmesurv.api.cox' in sys.modules, 'fit_cox' in vars(tmesurv), fit_cox.__module__)\n"
    )
    lines = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert lines == ["False", "True", "True", "tmesurv.api.cox"]


def test_biomarker_names_load_the_draw_only_when_used():
    script = (
        "import sys\n"
        "from tmesurv.simulations.biomarkers import BiomarkerSpec\n"
        "print('tmesurv.simulations.biomarkers.draw' in sys.modules)\n"
        "from tmesurv.simulations.biomarkers import UNIFORM_ROWS, generate_biomarkers\n"
        "print('tmesurv.simulations.biomarkers.draw' in sys.modules, UNIFORM_ROWS > 0, callable(generate_biomarkers))\n"
    )
    lines = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert lines == ["False", "True", "True", "True"]


def test_an_unknown_name_raises_attribute_error_naming_the_package():
    getattr_ = lazy_names("tmesurv", {"fit_cox": "tmesurv.api.cox"})
    with pytest.raises(AttributeError, match="module 'tmesurv' has no attribute 'fit_coz'"):
        getattr_("fit_coz")
