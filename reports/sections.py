"""The sections of the HTML report, each built from the result files it needs, None when they are absent.

Figures are drawn here (or read from ``figures/`` as PNG files) and embedded as ``data:`` URIs; tables are rows of
formatted text. Nothing here is HTML: the template escapes every string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from tmesurv.cohort import CONTROL, TREATED
from tmesurv.models.cox.km import ALL_PATIENTS
from tmesurv.outputs.run_record import RunRecord
from tmesurv.reports import figures, posterior_tables, product_tables, tables, validation_power
from tmesurv.reports.effect_figures import treatment_effect_figure
from tmesurv.reports.figures import FigureImage, km_levels_figure, png_data_uri, png_file_uri
from tmesurv.reports.forest import forest_figure, split_subgroup, treatment_rows
from tmesurv.reports.methods import MethodsText, methods
from tmesurv.reports.posterior_figures import prior_predictive_figure, screen_figure, time_varying_figure
from tmesurv.reports.product_figures import figure_stem
from tmesurv.reports.results import Results

SCREEN_FIGURES = (  # (file-name prefix, gallery title, wide)
    ("volcano_", "Volcano plots", False),
    ("response_boxes_", "Features by response group", True),
    ("signature_clusters", "Signature clusters", True),
    ("pca", "Principal components", True),
)
VALIDATION_PREFIXES = ("calibration", "benefit", "survival_")
POWER_PREFIXES = ("power",)
VALIDATION_GALLERY = "Calibration, predicted benefit and survival"
POWER_GALLERY = "Power curves"


@dataclass(frozen=True)
class Gallery:
    """Figures shown together; ``wide`` figures take the page's width."""

    title: str
    images: tuple[FigureImage, ...]
    wide: bool = False


@dataclass(frozen=True)
class CohortSection:
    """Counts per arm and exclusions; either may be absent."""

    counts: tables.Table | None
    exclusions: tables.Table | None


@dataclass(frozen=True)
class KmSection:
    """Kaplan-Meier figures (overall, then per grouping) and the tables of medians and landmarks."""

    images: tuple[FigureImage, ...]
    grouping_images: tuple[FigureImage, ...]
    summary: tables.Table | None
    posterior: tables.Table | None
    posterior_subgroups: tables.Table | None


@dataclass(frozen=True)
class Forest:
    """One endpoint's forest plot and its table."""

    endpoint: str
    image: FigureImage
    table: tables.Table


@dataclass(frozen=True)
class HazardSection:
    """Forest plots with their tables, and every model term side by side."""

    forests: tuple[Forest, ...]
    comparison: tables.Comparison | None


@dataclass(frozen=True)
class InteractionSection:
    """Interaction posteriors, and the treatment effect along each biomarker (figure per endpoint and table)."""

    table: tables.Table | None
    images: tuple[FigureImage, ...]
    along: tables.Table | None


@dataclass(frozen=True)
class FigureSection:
    """A table (optional) and galleries of figures read from the result folder."""

    table: tables.Table | None
    galleries: tuple[Gallery, ...]


@dataclass(frozen=True)
class ProductPair:
    """One product attribute x biomarker pair: heading, subgroup table and Kaplan-Meier figure (None if absent)."""

    heading: str
    table: tables.Table
    image: FigureImage | None


@dataclass(frozen=True)
class ProductSection:
    """The CAR T product and PK analyses of the treated arm; either part may be absent."""

    associations: tables.Table | None
    pairs: tuple[ProductPair, ...]


@dataclass(frozen=True)
class ReportContext:
    """Everything the template shows; None for each section whose files are absent."""

    title: str
    notes: tuple[str, ...]
    cohort: CohortSection | None
    km: KmSection | None
    hazards: HazardSection | None
    interactions: InteractionSection | None
    screens: FigureSection | None
    product: ProductSection | None
    interaction_screen: FigureSection | None
    time_varying: FigureSection | None
    prior_predictive: FigureSection | None
    diagnostics: posterior_tables.Diagnostics | None
    validation: FigureSection | None
    power: FigureSection | None
    methods: MethodsText | None
    run: RunRecord | None
    seeds: tuple[tuple[str, str], ...]

    @property
    def empty(self) -> bool:
        """Whether no section has anything to show."""
        sections = (self.cohort, self.km, self.hazards, self.interactions, self.screens, self.diagnostics)
        optional = (self.interaction_screen, self.time_varying, self.prior_predictive, self.validation, self.power)
        return all(section is None for section in (*sections, *optional, self.product))


def report_context(results: Results) -> ReportContext:
    """Build every section of the report from ``results`` (figures included).

    Parameters
    ----------
    results
        The contents of a result folder.

    Returns
    -------
    ReportContext
        What the template shows.
    """
    names = arm_names(results.run)
    return ReportContext(
        title=results.name,
        notes=results.notes,
        cohort=cohort_section(results, names),
        km=km_section(results, names),
        hazards=hazard_section(results, names),
        interactions=interaction_section(results, names),
        screens=screen_section(results),
        product=product_section(results),
        interaction_screen=interaction_screen_section(results),
        time_varying=time_varying_section(results, names),
        prior_predictive=prior_predictive_section(results, names),
        diagnostics=None if results.bayes is None else posterior_tables.diagnostics_table(results.bayes),
        validation=_figure_section(
            results, validation_power.validation_table, results.validation, VALIDATION_PREFIXES, VALIDATION_GALLERY
        ),
        power=_figure_section(results, validation_power.power_table, results.power, POWER_PREFIXES, POWER_GALLERY),
        methods=methods_section(results),
        run=results.run,
        seeds=seeds(results.run),
    )


def arm_names(run: RunRecord | None) -> dict[str, str]:
    """Display names of the arms from the config's ``data.arm`` (``treated``/``control`` labels of the data)."""
    arm = (run.config.get("data") or {}).get("arm") if run is not None else None
    if not isinstance(arm, Mapping):
        return {}
    return {key: str(arm[key]) for key in (TREATED, CONTROL) if arm.get(key)}


def seeds(run: RunRecord | None) -> tuple[tuple[str, str], ...]:
    """The seeds behind the results: each command's seed and the Bayesian sampler's."""
    if run is None:
        return ()
    found = [(f"{name} (run.json)", str(entry.seed)) for name, entry in run.runs.items() if entry.seed is not None]
    bayes = run.config.get("bayes")
    if isinstance(bayes, Mapping) and bayes.get("seed") is not None:
        found.append(("Bayesian sampler (bayes.seed)", str(bayes["seed"])))
    return tuple(found)


def cohort_section(results: Results, names: dict[str, str] | None = None) -> CohortSection | None:
    """Counts per arm and every exclusion with its reason."""
    if results.cohort is None and results.exclusions is None:
        return None
    return CohortSection(
        counts=None if results.cohort is None else tables.cohort_table(results.cohort, names),
        exclusions=None if results.exclusions is None else tables.exclusions_table(results.exclusions),
    )


def km_section(results: Results, names: dict[str, str]) -> KmSection | None:
    """Kaplan-Meier per arm overall and within every grouping, the Bayesian posterior overlaid where fitted."""
    curves, posterior = results.km_curves, results.bayes_curves
    if curves is None and results.km is None and results.bayes_survival is None:
        return None
    overall, by_grouping = (), ()
    if curves is not None:
        overall = tuple(
            figures.km_figure(curves[curves["endpoint"] == endpoint], str(endpoint), posterior, names)
            for endpoint in _endpoints(curves)
            if (curves[(curves["endpoint"] == endpoint)]["subgroup"] == ALL_PATIENTS).any()
        )
        by_grouping = tuple(_grouping_figures(curves, posterior, names, _known_groupings(results)))
    summary = None if results.km is None else results.km[results.km["subgroup"] == ALL_PATIENTS]
    survival = results.bayes_survival
    others = None if survival is None else survival[survival["subgroup"] != ALL_PATIENTS]
    return KmSection(
        images=overall,
        grouping_images=by_grouping,
        summary=None if summary is None else tables.km_summary_table(summary, names),
        posterior=None if survival is None else posterior_tables.posterior_survival_table(survival, "all", names),
        posterior_subgroups=None
        if others is None or others.empty
        else posterior_tables.posterior_survival_table(survival, "others", names),
    )


def hazard_section(results: Results, names: dict[str, str]) -> HazardSection | None:
    """Per endpoint the forest plot (Cox and Bayesian on one axis) and its table; every term side by side."""
    cox, bayes = results.cox, results.bayes
    if cox is None and bayes is None:
        return None
    terms = None if bayes is None else bayes[bayes["analysis"] != posterior_tables.TREATMENT_AT]
    forests = []
    for endpoint in _endpoints(*(frame for frame in (cox, bayes) if frame is not None)):
        if not treatment_rows(cox, endpoint) and not treatment_rows(bayes, endpoint):
            continue
        figure = forest_figure(cox, endpoint, results.interactions, names, bayes=bayes)
        alt = _forest_alt(endpoint, cox is not None, bayes is not None)
        table = tables.forest_table(cox, bayes, endpoint, results.interactions, names)
        forests.append(Forest(str(endpoint), FigureImage(png_data_uri(figure), alt), table))
    return HazardSection(tuple(forests), tables.comparison(cox, terms, results.biomarkers))


def interaction_section(results: Results, names: dict[str, str]) -> InteractionSection | None:
    """Interaction posteriors and the treatment effect along each biomarker; None without Bayesian results."""
    bayes = results.bayes
    if bayes is None:
        return None
    interactions = bayes[
        (bayes["analysis"] == posterior_tables.INTERACTION) & bayes["term"].astype(str).str.startswith("arm:")
    ]
    along, curves = posterior_tables.treatment_at_rows(bayes), results.bayes_hr_curve
    if interactions.empty and along.empty and curves is None:
        return None
    endpoints = _endpoints(*(frame for frame in (along, curves) if frame is not None))
    images = tuple(
        FigureImage(
            png_data_uri(treatment_effect_figure(bayes, endpoint, results.cox, names, curves)),
            _effect_alt(endpoint, curves is not None and (curves["endpoint"] == endpoint).any()),
        )
        for endpoint in endpoints
    )
    return InteractionSection(
        table=None
        if interactions.empty
        else posterior_tables.interaction_table(bayes, results.cox, results.interactions, results.biomarkers),
        images=images,
        along=None if along.empty else posterior_tables.treatment_at_table(bayes),
    )


def interaction_screen_section(results: Results) -> FigureSection | None:
    """The interaction screen under a shrinkage prior (``bayes_screen.csv``): dot-and-interval plot and table."""
    screen = results.bayes_screen
    if screen is None:
        return None
    images = tuple(
        FigureImage(
            png_data_uri(screen_figure(screen, endpoint)),
            f"Interaction screen of {endpoint}: exp(posterior mean log ratio of treatment hazard ratios) per SD of "
            "each biomarker with its 95% credible interval, sorted by effect, log scale; the title states the "
            "prior, the fit's divergences and its convergence.",
        )
        for endpoint in _endpoints(screen)
    )
    return FigureSection(posterior_tables.screen_table(screen), (Gallery("Screened interactions", images, wide=True),))


def time_varying_section(results: Results, names: dict[str, str]) -> FigureSection | None:
    """The treatment HR per baseline interval (``bayes_time_varying.csv``): figure of all patients, every row."""
    rows = results.bayes_time_varying
    if rows is None:
        return None
    overall = rows[rows["analysis"] == "treatment"]
    images = tuple(
        FigureImage(
            png_data_uri(time_varying_figure(rows, endpoint, names)),
            f"Treatment hazard ratio of {endpoint} in each baseline interval (all patients): exp(posterior mean log "
            "hazard ratio) and 95% credible interval, log scale, against months since randomisation.",
        )
        for endpoint in _endpoints(overall)
    )
    galleries = (Gallery("All patients", images),) if images else ()
    return FigureSection(posterior_tables.time_varying_table(rows), galleries)


def prior_predictive_section(results: Results, names: dict[str, str]) -> FigureSection | None:
    """The prior predictive check (``bayes_prior_predictive.csv``) against the Kaplan-Meier curves."""
    check = results.bayes_prior_predictive
    if check is None:
        return None
    images = tuple(
        FigureImage(
            png_data_uri(prior_predictive_figure(check, endpoint, results.km_curves, names)),
            f"Prior predictive check of {endpoint}: survival per arm implied by the priors (median and 95% "
            "interval at the landmarks) against the Kaplan-Meier curve.",
        )
        for endpoint in _endpoints(check[check["statistic"] == "survival"])
    )
    galleries = (Gallery("Prior predictive survival", images),) if images else ()
    return FigureSection(posterior_tables.prior_predictive_table(check, names), galleries)


def _effect_alt(endpoint: str, has_curves: bool) -> str:
    curve = "the spline treatment-HR curve with its 95% credible band, and " if has_curves else ""
    return (
        f"Treatment hazard ratio of {endpoint} against the value of each biomarker: {curve}the linear interaction "
        "model's exp(posterior mean log hazard ratio) and 95% credible interval at the biomarker's quartiles and "
        "chosen values, log scale."
    )


def screen_section(results: Results) -> FigureSection | None:
    """The screen figures of ``tmesurv cox`` (volcano, response boxes, heatmap, PCA) from ``figures/``."""
    galleries = []
    for prefix, title, wide in SCREEN_FIGURES:
        images = _file_images(results, (prefix,), title)
        if images:
            galleries.append(Gallery(title, images, wide))
    return FigureSection(None, tuple(galleries)) if galleries else None


def product_section(results: Results) -> ProductSection | None:
    """The CAR T product and PK analyses of ``tmesurv cox``: ``product_associations.csv``, ``product_subgroups.csv``.

    Each attribute x biomarker pair of the subgroups gets its table and its Kaplan-Meier figure from
    ``figures/km_product_*.png`` (figures of pairs not in the table, e.g. of an earlier run, are not shown).
    """
    associations, subgroups = results.product_associations, results.product_subgroups
    if associations is None and subgroups is None:
        return None
    return ProductSection(
        associations=None if associations is None else product_tables.product_associations_table(associations),
        pairs=() if subgroups is None else _product_pairs(results, subgroups),
    )


def methods_section(results: Results) -> MethodsText | None:
    """The methods paragraphs from run.json's config; None without run.json."""
    if results.run is None:
        return None
    frequentist = results.cox is not None or results.km is not None or results.km_curves is not None
    product = results.product_associations is not None or results.product_subgroups is not None
    return methods(results.run.config, bayesian=results.bayes is not None, cox=frequentist, product=product)


def _figure_section(
    results: Results,
    make_table: Callable[[pd.DataFrame], tables.Table],
    frame: pd.DataFrame | None,
    prefixes: tuple[str, ...],
    title: str,
) -> FigureSection | None:
    images = _file_images(results, prefixes, title)
    if frame is None and not images:
        return None
    galleries = (Gallery(title, images),) if images else ()
    return FigureSection(None if frame is None else make_table(frame), galleries)


def _file_images(results: Results, prefixes: tuple[str, ...], title: str) -> tuple[FigureImage, ...]:
    """The PNG figures whose names start with one of ``prefixes``, captioned with ``title`` and the file name."""
    images = []
    for stem, path in results.figures.items():
        if stem.startswith(prefixes):
            source = png_file_uri(path)
            if source is not None:
                images.append(FigureImage(source, f"{title}: {path.name}"))
    return tuple(images)


def _product_pairs(results: Results, subgroups: pd.DataFrame) -> tuple[ProductPair, ...]:
    pairs = []
    ci_method = _km_ci(results.run)
    keys = ["endpoint", "attribute", "biomarker"]
    for (endpoint, attribute, biomarker), rows in subgroups.groupby(keys, sort=False, dropna=False):
        path = results.figures.get(figure_stem(f"{attribute}/{biomarker}"))
        source = None if path is None else png_file_uri(path)
        alt = (
            f"Kaplan-Meier curves of {endpoint} in the treated arm by {attribute} and {biomarker} group (low/low, "
            "low/high, high/low, high/high; line style per group, no confidence bands), numbers at risk below."
        )
        image = None if source is None else FigureImage(source, alt)
        heading = f"{endpoint} by {attribute} and {biomarker} group"
        pairs.append(ProductPair(heading, product_tables.product_subgroup_table(rows, ci_method), image))
    return tuple(pairs)


def _km_ci(run: RunRecord | None) -> str | None:
    """The Kaplan-Meier confidence interval scale of run.json's config (``analysis.km_ci``), if stated."""
    analysis = (run.config.get("analysis") or {}) if run is not None else {}
    scale = analysis.get("km_ci") if isinstance(analysis, Mapping) else None
    return None if scale is None else str(scale)


def _endpoints(*frames: pd.DataFrame) -> list[str]:
    found = [endpoint for frame in frames for endpoint in pd.unique(frame["endpoint"].dropna())]
    return [str(endpoint) for endpoint in dict.fromkeys(found)]


def _known_groupings(results: Results) -> set[str]:
    if results.interactions is None:
        return set()
    return set(results.interactions["grouping"].dropna().astype(str))


def _grouping_figures(
    curves: pd.DataFrame, posterior: pd.DataFrame | None, names: dict[str, str], known: set[str]
) -> list[FigureImage]:
    images = []
    for endpoint in _endpoints(curves):
        rows = curves[curves["endpoint"] == endpoint]
        subgroups = [s for s in pd.unique(rows["subgroup"].dropna().astype(str)) if s != ALL_PATIENTS]
        for grouping in dict.fromkeys(split_subgroup(s, known)[0] for s in subgroups):
            figure = km_levels_figure(rows, endpoint, grouping, posterior, names)
            overlay = posterior is not None and _has_posterior(posterior, endpoint, grouping)
            images.append(FigureImage(png_data_uri(figure), _grouping_alt(endpoint, grouping, overlay)))
    return images


def _has_posterior(posterior: pd.DataFrame, endpoint: str, grouping: str) -> bool:
    rows = posterior[posterior["endpoint"] == endpoint]
    return any(figures.subgroup_level(str(s), grouping) is not None for s in pd.unique(rows["subgroup"]))


def _grouping_alt(endpoint: str, grouping: str, overlay: bool) -> str:
    bands = "the Bayesian posterior median and 95% band overlaid" if overlay else "Kaplan-Meier confidence bands"
    return (
        f"Kaplan-Meier curves of {endpoint} by arm within each level of {grouping}, with {bands}; numbers at risk "
        "below each panel."
    )


def _forest_alt(endpoint: str, has_cox: bool, has_bayes: bool) -> str:
    estimates = " and ".join(
        text
        for text, present in (
            ("Cox hazard ratios with 95% confidence intervals", has_cox),
            ("Bayesian hazard ratios at the posterior mean log hazard ratio with 95% credible intervals", has_bayes),
        )
        if present
    )
    return f"Forest plot of {endpoint}: {estimates}, overall and within each subgroup, on one log axis."
