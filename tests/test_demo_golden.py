"""The demo's results are unchanged: every CSV of ``tmesurv demo`` against its stored fingerprint."""

import json
import math

import pytest
from typer.testing import CliRunner

from tests.reference.demo_golden import GOLDEN, MONTE_CARLO_RTOL, SAMPLER_PATH_COLUMNS, fingerprint, is_monte_carlo
from tmesurv.cli import app


@pytest.mark.slow
def test_demo_csv_outputs_equal_their_fingerprints(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    expected, found = json.loads(GOLDEN.read_text()), fingerprint(tmp_path)
    assert sorted(found) == sorted(expected)
    for name, file_print in expected.items():
        assert found[name]["rows"] == file_print["rows"], name
        assert list(found[name]["columns"]) == list(file_print["columns"]), name
        monte_carlo = is_monte_carlo(name)
        for column, stored in file_print["columns"].items():
            now = found[name]["columns"][column]
            if monte_carlo and column in SAMPLER_PATH_COLUMNS:
                assert now.get("missing") == stored.get("missing"), (name, column)
            elif "sha256" in stored:
                assert now == stored, (name, column)
            else:
                assert now["missing"] == stored["missing"], (name, column)
                rel_tol = MONTE_CARLO_RTOL if monte_carlo else 1e-9
                for key in ("sum", "abs_sum"):
                    assert math.isclose(now[key], stored[key], rel_tol=rel_tol, abs_tol=1e-12), (name, column, key)
