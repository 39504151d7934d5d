"""Synthetic trials: one export and its config, a scenario's calibration, and the demo of the whole pipeline.

``simulate`` writes one export and the config that reads it, ``calibrate`` checks a scenario against the published
figures, and ``demo`` runs fit_cox, fit_pwe and the report on the ZUMA-7-like trial.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml

from tmesurv.errors import InputError
from tmesurv.outputs.atomic import write_atomically, write_text
from tmesurv.outputs.files import write_result


def simulate(
    scenario: Path | str = "zuma7",
    out: Path | str = "trial.csv",
    *,
    seed: int = 1,
    export_format: Literal["csv", "geo"] = "csv",
) -> tuple[Path, Path]:
    """Write one simulated trial export and the analysis config that reads it (``tmesurv simulate``).

    Parameters
    ----------
    scenario
        A scenario YAML file, or a shipped scenario's name (``zuma7``).
    out
        The export to write (CSV); for ``export_format="geo"`` a folder that receives a GEO series in the layout of
        GSE248835 (``series_matrix.txt.gz``, ``platform.txt``) and ``analysis.yaml``.
    seed
        The seed; the same seed gives the same bytes.
    export_format
        ``csv`` (one flat export) or ``geo``.

    Returns
    -------
    tuple[pathlib.Path, pathlib.Path]
        The export and its config (same name, ``.yaml``). Beside a CSV export: the gene matrix, when the scenario
        makes one (``<name>.genes.csv``), and the treated arm's CAR T levels over time (``<name>_pk.csv``).
    """
    from tmesurv.simulations.pk_series import trial_pk_series
    from tmesurv.simulations.scenario import analysis_config, load_scenario
    from tmesurv.simulations.trial import simulate_trial

    loaded, out = load_scenario(Path(scenario)), Path(out)
    if export_format == "geo":
        return _simulate_geo(loaded, seed, out)
    trial = simulate_trial(loaded, seed)
    write_atomically(out, lambda temporary: trial.to_frame().to_csv(temporary, index=False))
    if trial.genes is not None:
        write_atomically(out.with_suffix(".genes.csv"), lambda temporary: trial.genes.to_csv(temporary))
    pk = trial_pk_series(trial.columns, loaded.product.time_to_peak_days)
    pk_path = out.with_name(f"{out.stem}_pk.csv")
    write_atomically(pk_path, lambda temporary: pk.samples.to_csv(temporary, index=False))
    config = analysis_config(loaded, out.name, seed, pk_file=pk_path.name)
    return out, write_text(out.with_suffix(".yaml"), yaml.safe_dump(config, sort_keys=False))


def _simulate_geo(scenario: object, seed: int, folder: Path) -> tuple[Path, Path]:
    from tmesurv.simulations.geo import write_geo_series

    if folder.suffix:
        raise InputError(f"--out '{folder}': a GEO series is written into a folder; give a folder name")
    series_matrix, _, config = write_geo_series(scenario, seed, folder)
    return series_matrix, write_text(folder / "analysis.yaml", yaml.safe_dump(config, sort_keys=False))


def calibrate(scenario: Path | str = "zuma7", replicates: int = 200, *, seed: int = 1) -> pd.DataFrame:
    """Simulate ``replicates`` cohorts and compare each statistic with the published figure it targets.

    Returns
    -------
    pandas.DataFrame
        ``calibration.csv``: ``target, published, simulated_mean, mc_se, tolerance, ok, source``.
    """
    from tmesurv.simulations.calibration import calibrate as calibrate_scenario
    from tmesurv.simulations.scenario import load_scenario

    return calibrate_scenario(load_scenario(Path(scenario)), replicates, seed)


def write_calibration(table: pd.DataFrame, folder: Path | str) -> Path:
    """Write a :func:`calibrate` table as ``folder/calibration.csv``."""
    from tmesurv.outputs.files import CALIBRATION

    return write_result(Path(folder), CALIBRATION, table)


def demo(out: Path | str = "tmesurv-demo", *, seed: int = 7, progress: Callable[[str], object] = print) -> Path:
    """Simulate the ZUMA-7-like trial into ``out/data``, then run fit_cox, fit_pwe and report on it (``tmesurv demo``).

    Returns
    -------
    pathlib.Path
        The report.
    """
    from tmesurv.api.bayes import fit_pwe
    from tmesurv.api.cox import fit_cox
    from tmesurv.cohort import Cohort
    from tmesurv.reports.html import write_report

    out = Path(out)
    progress(f"[1/4] simulating the ZUMA-7-like trial (scenario zuma7, seed {seed})")
    _, config_path = simulate("zuma7", out / "data" / "zuma7_trial.csv", seed=seed)
    cohort = Cohort.from_config(config_path)
    progress("[2/4] Kaplan-Meier and Cox analyses")
    cox = fit_cox(cohort)
    cox.write(out)
    for note in cox.notes:
        progress(f"note: {note}")
    progress("[3/4] Bayesian piecewise-exponential models")
    bayes = fit_pwe(cohort, progress=progress)
    bayes.write(out)
    for note in bayes.notes:
        progress(f"note: {note}")
    progress("[4/4] report")
    return write_report(out)
