"""``validate``: score a saved or freshly fitted validation model on an external cohort, as one result object."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tmesurv.api.display import html_table, result_lines
from tmesurv.api.settings import run_plan
from tmesurv.cohort import Cohort, exclusion_table
from tmesurv.errors import InputError
from tmesurv.outputs.files import write_results
from tmesurv.outputs.run_folder import RunPlan, input_files, staged


@dataclass(frozen=True)
class ValidationResult:
    """What :func:`validate` computed (see :class:`tmesurv.validation.external.ValidationResults`).

    Attributes
    ----------
    results
        The tables: ``metrics`` (``validation.csv``), benefit, case mix, harmonisation, calibration and survival
        curves, exclusions and notes.
    cohort
        The external cohort.
    model_dir
        The folder the model was read from (None for a model fitted in this session).
    settings
        Horizons, harmonisation, bootstrap and seed.
    """

    results: Any
    cohort: Cohort
    model_dir: Path | None
    settings: Any

    @property
    def metrics(self) -> pd.DataFrame:
        """``validation.csv``: every metric per model, horizon and group, with its bootstrap interval."""
        return self.results.table

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Result-file stem -> table: ``validation``, ``decision_curve``, ``predictions``, curves, case mix, ..."""
        return {**self.results.tables, "exclusions": exclusion_table(self.results.exclusions)}

    @property
    def notes(self) -> list[str]:
        """What the scoring noticed (harmonisation, horizons beyond follow-up, ...)."""
        return self.results.notes

    def write(self, folder: Path | str, *, fresh: bool = False) -> Path:
        """Write the tables, figures, ``validation_settings.json`` and ``run.json`` (as ``tmesurv validate`` does).

        Staged and committed together, as :meth:`tmesurv.api.cox.CoxResult.write`.

        Returns
        -------
        pathlib.Path
            The folder; ``run.json`` lists the files written.
        """
        from tmesurv.validation.output import write_validation

        with staged(folder, self.run_plan(folder, fresh), seed=self.settings.seed) as run:
            write_validation(run.path, self.results, self.model_dir, self.settings)
            write_results(run.path, {"exclusions": exclusion_table(self.results.exclusions)})
        return Path(folder)

    def run_plan(self, folder: Path | str, fresh: bool) -> RunPlan:
        """What writing into ``folder`` reads and writes (refused when ``folder`` is the model's own folder)."""
        if self.model_dir is not None and Path(folder).resolve() == self.model_dir.resolve():
            raise InputError(f"--out '{folder}' is the model folder: write the validation into a folder of its own")
        model_files = input_files([self.model_dir]) if self.model_dir is not None else ()
        return run_plan("validate", self.cohort, self.cohort.config, fresh, model_files)

    def console_lines(self) -> list[str]:
        """What ``tmesurv validate`` prints before the table: harmonisation, exclusions and notes."""
        from tmesurv.validation.output import console_lines

        return console_lines(self.results)

    def __repr__(self) -> str:
        lines = [f"ValidationResult: {self.cohort.n} external patients from {self.cohort.source}"]
        headline = self.metrics[self.metrics["metric"].isin(["harrell_c", "calibration_slope", "oe_ratio"])]
        lines += [
            f"  {row.model} {row.metric}"
            + ("" if pd.isna(row.horizon) else f" at {row.horizon:g} months")
            + f": {row.estimate:.3g} ({row.lower:.3g}-{row.upper:.3g})"
            for row in headline.itertuples()
        ]
        return "\n".join(lines + result_lines({"metrics": self.metrics}, self.notes))

    def _repr_html_(self) -> str:
        columns = ["model", "metric", "group", "horizon", "estimate", "lower", "upper"]
        return f"<p><b>{self.__repr__().splitlines()[0]}</b></p>" + html_table(self.metrics, columns)


HORIZON_UNITS = {"m": "months", "y": "years", "d": "days", "w": "weeks"}


def parse_horizon(value: float | str) -> float:
    """A prediction horizon in months from a number (months) or text with a unit: ``60``, ``60m``, ``5y``, ``1826d``.

    Parameters
    ----------
    value
        A number of months, or a number followed by ``m`` (months), ``y`` (years), ``w`` (weeks) or ``d`` (days);
        a bare number is months. Units convert as cohort times do (1 year = 12 months, 1 month = 365.25/12 days),
        so ``1826d`` is the horizon of a cohort in days censored at 1826 days.

    Returns
    -------
    float
        The horizon in months.

    Raises
    ------
    InputError
        If the text is not a number with an optional unit.
    """
    from tmesurv.config import MONTHS_PER_UNIT

    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower()
    unit = HORIZON_UNITS.get(text[-1:]) if text[-1:].isalpha() else "months"
    number = text[:-1] if text[-1:].isalpha() else text
    try:
        amount = float(number)
    except ValueError:
        amount = float("nan")
    if unit is None or not np.isfinite(amount):
        raise InputError(
            f"--horizon '{value}': give a number of months (60) or a number with a unit: 60m, 5y, 260w or 1826d"
        )
    return amount * MONTHS_PER_UNIT[unit]


def validate(
    model: Path | str | Any,
    cohort: Cohort,
    *,
    horizons: Sequence[float | str] = (),
    harmonise: Sequence[str] = (),
    bootstrap: int = 1000,
    seed: int = 1,
    endpoint: str | None = None,
    benefit_matching: str = "rank",
    matching_repeats: int = 50,
) -> ValidationResult:
    """Score a validation model on an external cohort: discrimination, calibration, Brier/IPA, benefit, case mix.

    Parameters
    ----------
    model
        A result folder of ``tmesurv cox``/``bayes`` (or ``CoxResult.write``) with the saved validation model, or a
        :class:`~tmesurv.api.cox.CoxResult` fitted with a ``validation_model``.
    cohort
        The external cohort (two arms, or one).
    horizons
        Prediction horizons: numbers in months, or text with a unit (``"5y"``, ``"1826d"``; see
        :func:`parse_horizon`); empty: the development config's landmarks.
    harmonise
        ``METHOD`` for every term or ``TERM=METHOD`` (none, zscore, quantile, rederive), as ``--harmonise``.
    bootstrap
        Bootstrap replicates of the intervals (0: estimates only).
    seed
        Seed of the bootstrap and of the posterior predictive draws.
    endpoint
        The external cohort's endpoint; default its config's.
    benefit_matching
        How the c- and E-for-benefit pair treated with control patients: ``rank`` (deterministic) or ``random``
        (van Klaveren's, averaged over ``matching_repeats`` seeded matchings).
    matching_repeats
        Random matchings averaged (``random`` only).

    Returns
    -------
    ValidationResult
        ``.metrics`` is ``validation.csv``; ``.write(folder)``.

    Raises
    ------
    InputError
        If the model cannot be read, or the cohort cannot be scored (naming the term, horizon or patients).
    """
    from tmesurv.models.prediction.storage import load_validation_fits
    from tmesurv.validation.external import ValidationSettings, validate_external

    settings = ValidationSettings(
        tuple(parse_horizon(h) for h in horizons),
        tuple(harmonise),
        n_boot=bootstrap,
        seed=seed,
        benefit_matching=benefit_matching,
        matching_repeats=matching_repeats,
    )
    if isinstance(model, str | Path):
        model_dir, fits = Path(model), load_validation_fits(Path(model))
    else:
        model_dir, fits = None, _fitted_models(model)
    endpoint = endpoint or (cohort.config.analysis.endpoint if cohort.config else cohort.endpoints[0])
    return ValidationResult(validate_external(fits, cohort, endpoint, settings), cohort, model_dir, settings)


def _fitted_models(result: Any) -> list:
    fitted = getattr(result, "validation_model", None)
    if fitted is None:
        raise InputError(
            "validate(): the model has no fitted validation model; fit it with fit_cox(cohort, "
            "validation_model={'terms': [...]}) or give the result folder that holds validation_model.json"
        )
    return [fitted]
