"""The ``tmesurv`` command: parse arguments, call the Python API (:mod:`tmesurv.api`), print what happened.

Every command is one API call and ``.write(DIR)``, so what the command writes is what the API returns. Bad input ends
with one clear message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import atexit
import enum
import functools
import gc
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from tmesurv import interrupts
from tmesurv.errors import InputError, SamplingError

if TYPE_CHECKING:
    import xarray as xr

app = typer.Typer(
    help="Predictive-biomarker analysis of randomized trials with time-to-event endpoints.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ConfigArgument = Annotated[Path, typer.Argument(help="Analysis config (YAML).", show_default=False)]
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Result folder (created if needed).")]
FreshOption = Annotated[
    bool,
    typer.Option(
        "--fresh", help="Replace the results of another config in --out (only the files tmesurv wrote there)."
    ),
]


def _input_errors_exit_2(command: Callable) -> Callable:
    """Turn :class:`InputError` into a message and exit code 2, an interrupt into exit code 130/143.

    Unusable sampler draws (:class:`~tmesurv.errors.SamplingError`) give a message and exit code 1.

    An interrupted command has written nothing into its result folder (its files are staged and committed only at the
    end; see :mod:`tmesurv.outputs.run_folder`), so the folder keeps the previous run's results.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        interrupts.install()
        try:
            return command(*args, **kwargs)
        except InputError as error:
            typer.echo(f"tmesurv: error: {error}", err=True)
            raise typer.Exit(code=2) from None
        except SamplingError as error:
            typer.echo(f"tmesurv: error: {error}; no new results were written", err=True)
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt as interrupt:
            name = "terminated (SIGTERM)" if isinstance(interrupt, interrupts.Terminated) else "interrupted (Ctrl-C)"
            typer.echo(f"tmesurv: {name}: no new results were written; the output folder keeps what it had", err=True)
            raise typer.Exit(code=interrupts.exit_code(interrupt)) from None

    return wrapper


def _quiet_sampler_logs() -> None:
    """Keep PyMC's per-fit sampler chatter off the console; tmesurv prints its own progress per fit.

    PyTensor's note that it runs without a BLAS library (usual for a pip install) is about the install, not the
    results, and the models here are small enough not to need one.
    """
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS", category=UserWarning)
    import pymc  # noqa: F401  (PyMC sets its logger's level when imported, so import it first)

    logging.getLogger("pymc").setLevel(logging.WARNING)


def _echo_notes(notes: list[str]) -> None:
    for note in notes:
        typer.secho(f"note: {note}", fg=typer.colors.YELLOW, err=True)


@app.command()
@_input_errors_exit_2
def check(config: ConfigArgument) -> None:
    """Validate a config and its data; print patients, events, follow-up and exclusions per arm."""
    from tmesurv.cohort import Cohort
    from tmesurv.models.cox.km import cohort_table

    cohort = Cohort.from_config(config)
    endpoint = cohort.config.analysis.endpoint
    typer.echo(f"{cohort.source}: {cohort.n} patients; endpoint {endpoint} (months)")
    typer.echo(cohort_table(cohort, endpoint).to_string(index=False, float_format="{:.1f}".format))
    exclusions = cohort.analysis_exclusions(cohort.config.analysis)
    for exclusion in exclusions:
        typer.echo(f"excluded from {exclusion.analysis}: {exclusion.count} {exclusion.unit} ({exclusion.reason})")
    if not exclusions:
        typer.echo("no exclusions")
    _echo_notes(list(cohort.notes))


@app.command()
@_input_errors_exit_2
def cox(config: ConfigArgument, out: OutOption, fresh: FreshOption = False) -> None:
    """Kaplan-Meier and Cox analyses (treatment, interaction, within-arm, subgroup) -> cox.csv, km.csv."""
    from tmesurv.api.cox import fit_cox
    from tmesurv.api.settings import run_plan
    from tmesurv.cohort import Cohort
    from tmesurv.outputs.run_folder import reserve

    cohort = Cohort.from_config(config)
    with reserve(out, run_plan("cox", cohort, cohort.config, fresh)):
        result = fit_cox(cohort)
        result.write(out, fresh=fresh)
    _echo_notes(list(result.notes))
    typer.echo(f"wrote {out / 'cox.csv'} and {out / 'km.csv'}")


@app.command()
@_input_errors_exit_2
def bayes(config: ConfigArgument, out: OutOption, fresh: FreshOption = False) -> None:
    """Bayesian piecewise-exponential models with arm x biomarker interactions -> posterior.nc, bayes.csv."""
    from tmesurv.api.bayes import fit_pwe
    from tmesurv.api.settings import run_plan
    from tmesurv.cohort import Cohort
    from tmesurv.outputs.run_folder import reserve

    _quiet_sampler_logs()
    cohort = Cohort.from_config(config)
    with reserve(out, run_plan("bayes", cohort, cohort.config, fresh)):
        result = fit_pwe(cohort, progress=typer.echo)
        result.write(out, fresh=fresh)
    _echo_notes(list(result.notes))
    typer.echo(f"wrote {out / 'posterior.nc'} and {out / 'bayes.csv'}")


@app.command()
@_input_errors_exit_2
def report(result_dir: Annotated[Path, typer.Argument(help="A result folder of cox/bayes.")]) -> None:
    """Write DIR/report.html: KM curves and Cox next to Bayesian hazard ratios."""
    from tmesurv.api.report import report as write_report

    typer.echo(f"wrote {write_report(result_dir)}")


@app.command()
@_input_errors_exit_2
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Result folder.")] = Path("tmesurv-demo"),
    seed: Annotated[int, typer.Option(min=0, help="Seed of the synthetic cohort and the sampler.")] = 7,
) -> None:
    """Simulate the ZUMA-7-like trial (scenario zuma7), then run cox, bayes and report on it."""
    from tmesurv.api.simulate import demo as run_demo

    _quiet_sampler_logs()
    report_path = run_demo(out, seed=seed, progress=typer.echo)
    typer.echo(f"report: {report_path.resolve()}")


@app.command()
@_input_errors_exit_2
def validate(
    model_dir: Annotated[Path, typer.Argument(help="Result folder of cox/bayes with the saved validation model.")],
    external_config: Annotated[Path, typer.Argument(help="Config of the external cohort (YAML).", show_default=False)],
    out: OutOption,
    harmonise: Annotated[
        list[str] | None,
        typer.Option(
            help="none, zscore or quantile for every term, or TERM=METHOD for one; TERM=rederive recomputes a "
            "gene-set score from the external cohort's genes. Repeatable."
        ),
    ] = None,
    horizon: Annotated[
        list[str] | None,
        typer.Option(
            help="Prediction horizon: a bare number is months (60), or give a unit: 60m, 5y, 260w, 1826d. Repeatable. "
            "Default: the model's landmarks. At most the last external follow-up time."
        ),
    ] = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap replicates of the intervals.")] = 1000,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the bootstrap and the posterior predictive draws.")] = 1,
    benefit_matching: Annotated[
        str,
        typer.Option(
            help="Pairing of treated and control patients for the c- and E-for-benefit: rank (deterministic) or "
            "random (van Klaveren's, averaged over --matching-repeats seeded matchings)."
        ),
    ] = "rank",
    matching_repeats: Annotated[int, typer.Option(min=1, help="Random matchings averaged (random only).")] = 50,
    fresh: FreshOption = False,
) -> None:
    """Score a saved validation model on an external cohort -> validation.csv, figures."""
    from tmesurv.api.settings import run_plan
    from tmesurv.api.validate import validate as validate_model
    from tmesurv.cohort import Cohort
    from tmesurv.outputs.run_folder import input_files, reserve

    if out.resolve() == model_dir.resolve():
        raise InputError(f"--out '{out}' is the model folder: write the validation into a folder of its own")
    cohort = Cohort.from_config(external_config)
    with reserve(out, run_plan("validate", cohort, cohort.config, fresh, input_files([model_dir]))):
        result = validate_model(model_dir, cohort, horizons=horizon or (), harmonise=harmonise or (),
                                bootstrap=bootstrap, seed=seed, benefit_matching=benefit_matching,
                                matching_repeats=matching_repeats)  # fmt: skip
        result.write(out, fresh=fresh)
    for line in result.console_lines():
        typer.echo(line)
    shown = result.metrics.drop(columns="note")
    typer.echo(shown.to_string(index=False, float_format="{:.4g}".format, na_rep="-"))
    typer.echo(f"wrote {out / 'validation.csv'}, the other tables and {out / 'figures'}")


@app.command()
@_input_errors_exit_2
def power(
    study: Annotated[
        Path, typer.Argument(help="Power-study YAML, or a shipped name (zuma7_validation).", show_default=False)
    ],
    out: OutOption,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes of the local Dask cluster (default: the usable cores); 1, or a small study, runs "
            "in this process without a cluster.",
        ),
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler (e.g. tcp://host:8786) to use instead.")
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Delete the chunks tmesurv saved in DIR/chunks and start over; replace the results of another study.",
        ),
    ] = False,
) -> None:
    """Power study of validation cohorts -> power.nc, power.csv, power_curve.png; rerun to resume.

    A study with kind: validation_size sizes an external validation cohort instead (validation_size.csv).
    """
    from tmesurv.api.power import power as run_power

    try:
        dataset = run_power(study, out=out, workers=workers, scheduler=scheduler, fresh=fresh, progress=_progress_bar())
    except KeyboardInterrupt as interrupt:
        name = "terminated (SIGTERM)" if isinstance(interrupt, interrupts.Terminated) else "interrupted (Ctrl-C)"
        typer.echo(f"\ntmesurv: {name}: the chunks finished so far are kept in {out / 'chunks'}; rerun the same "
                   "command to resume", err=True)  # fmt: skip
        raise typer.Exit(code=interrupts.exit_code(interrupt)) from None
    computed, reused = dataset.attrs["chunks_computed"], dataset.attrs["chunks_reused"]
    if dataset.attrs.get("kind") == "validation_size":
        for line in _chosen_n_lines(dataset):
            typer.echo(line)
        typer.echo(f"{computed} chunks computed, {reused} reused from an earlier run")
        typer.echo(f"wrote {out / 'validation_size.nc'}, {out / 'validation_size.csv'}, "
                   f"{out / 'validation_size_n.csv'} and {out / 'validation_size_widths.png'}")  # fmt: skip
        return
    _echo_notes(_power_notes(dataset))
    typer.echo(f"{computed} chunks computed, {reused} reused from an earlier run")
    typer.echo(f"wrote {out / 'power.nc'}, {out / 'power.csv'} and {out / 'power_curve.png'}")


def _chosen_n_lines(dataset: xr.Dataset) -> list[str]:
    """The chosen validation-cohort size per calibration setting of a validation-size study."""
    chosen = dataset["chosen_n"].to_series()
    rule = f"every target ({dataset.attrs['targets']}) met with probability >= {dataset.attrs['target_probability']:g}"
    lines = [f"smallest n with {rule}:"]
    for (slope, oe), n in chosen.items():
        shown = f"{n:g}" if n == n else "none in the grid"
        lines.append(f"  calibration slope {slope:g}, O/E {oe:g}: n = {shown}")
    return lines


def _power_notes(dataset: xr.Dataset) -> list[str]:
    """Replicates that raised, and what single-arm power means."""
    notes = []
    if dataset.attrs["replicate_errors"]:
        first = dataset.attrs["error_messages"].splitlines()[0]
        notes.append(f"{dataset.attrs['replicate_errors']} replicate analyses raised an exception and count as failed "
                     f"(error_share in power.csv; messages in power_errors.csv), e.g. {first}")  # fmt: skip
    if "single_arm" in dataset.indexes["design"]:  # not .to_numpy(): it imports dask.base (0.1 s) to check
        notes.append("single-arm rows (estimand 'prognostic') are power to detect a prognostic effect in the treated "
                     "arm, not an interaction: a single-arm cohort cannot tell predictive from prognostic")  # fmt: skip
    return notes


def _progress_bar(width: int = 30) -> Callable[[int, int], None]:
    """A one-line text progress bar on stderr for (done, total) chunk counts, redrawn at each new percent."""
    shown = [-1]

    def show(done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if percent == shown[0] and done < total:
            return
        shown[0] = percent
        filled = width * done // max(total, 1)
        typer.echo(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} chunks", nl=done >= total, err=True)

    return show


class _DefaultCohortGroup(TyperGroup):
    """``tmesurv simulate SCENARIO`` means ``tmesurv simulate cohort SCENARIO``."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["cohort", *args]
        return super().parse_args(ctx, args)


simulate_app = typer.Typer(
    cls=_DefaultCohortGroup,
    help="Synthetic trials from a scenario: one cohort (the default), or a calibration against published figures.",
    no_args_is_help=True,
)
app.add_typer(simulate_app, name="simulate")


class SimulateFormat(enum.StrEnum):
    """Export formats of ``tmesurv simulate``."""

    csv = "csv"
    geo = "geo"


ScenarioArgument = Annotated[Path, typer.Argument(help="Scenario YAML, or a shipped name (zuma7).", show_default=False)]


@simulate_app.command("cohort")
@_input_errors_exit_2
def simulate_cohort(
    scenario: ScenarioArgument,
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="The export to write (CSV; its config goes next to it), or for --format geo a folder."
        ),
    ],
    seed: Annotated[int, typer.Option(min=0, help="Seed; the same seed gives the same bytes.")] = 1,
    export_format: Annotated[
        SimulateFormat,
        typer.Option("--format", help="csv: one flat export; geo: a GEO series matrix in the layout of GSE248835."),
    ] = SimulateFormat.csv,
) -> None:
    """Write one simulated trial export and the analysis config that reads it."""
    from tmesurv.api.simulate import simulate

    export, config = simulate(scenario, out, seed=seed, export_format=export_format.value)
    typer.echo(f"wrote {export} and {config}")


@simulate_app.command("calibrate")
@_input_errors_exit_2
def simulate_calibrate(
    scenario: ScenarioArgument,
    out: OutOption,
    replicates: Annotated[int, typer.Option(min=2, help="Number of simulated cohorts.")] = 200,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the run.")] = 1,
) -> None:
    """Compare the scenario's simulated statistics with the published figures -> calibration.csv."""
    from tmesurv.api.simulate import calibrate, write_calibration

    table = calibrate(scenario, replicates, seed=seed)
    write_calibration(table, out)
    typer.echo(table.to_string(index=False, float_format="{:.4g}".format))
    failed = int((~table["ok"]).sum())
    typer.echo(f"{len(table) - failed} of {len(table)} targets within tolerance; wrote {out / 'calibration.csv'}")


def main() -> None:
    """Entry point of the ``tmesurv`` console script.

    At the interpreter's exit, the objects left are frozen first (:func:`gc.freeze`): the exit then skips its final
    garbage collection over the hundreds of thousands of objects pandas, xarray and SciPy created, about 0.2 s of a
    small command's wall time. The other exit handlers still run, and every file was closed and committed before.
    """
    atexit.register(gc.freeze)
    app()
