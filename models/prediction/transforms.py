"""Model terms with stored transformations: ``log(x)``, ``clip(x, lo, hi)``, ``rcs(x, k)`` and ``factor(x)``.

A term of ``validation_model.terms`` is written as in an R formula:

* ``x``: the cohort's numeric column ``x`` as it is;
* ``log(x)``: its natural log (a value at or below 0 is an error naming the patients);
* ``clip(x, lo, hi)``: winsorised, ``min(max(x, lo), hi)`` (R's ``pmin(pmax(x, lo), hi)``);
* ``rcs(x, k)``: a restricted cubic spline with ``k`` knots (3 to 7), R's ``rms::rcs(x, k)``: the knots are placed
  on the development values by Harrell's default quantiles (``Hmisc::rcspline.eval``: 0.1, 0.5, 0.9 for 3 knots;
  0.05 to 0.95 evenly for 4 to 6; 0.025 to 0.975 for 7; fewer than 100 values: the outer knots are the 5th smallest
  and largest; a value holding 5 % or more of the patients at either end gets its own knot) and saved. The columns
  are ``x`` and ``k - 2`` non-linear ones, named as rms names them (``rcs(x, 4)``, ``rcs(x, 4)'``, ``rcs(x, 4)''``),
  each ``(x - t_j)_+^3 - (x - t_{k-1})_+^3 (t_k - t_j) / (t_k - t_{k-1}) + (x - t_k)_+^3 (t_{k-1} - t_j) /
  (t_k - t_{k-1})``, divided by ``(t_k - t_1)^2``;
* ``factor(x)`` or ``factor(x, ref = "b")``: a categorical column, one 0/1 dummy per level but the reference,
  named ``x=level``. The levels are those seen in development, saved; the reference is the first level (numeric
  levels in numeric order, text levels in code-point order; R's ``factor`` sorts text by locale) unless ``ref``
  names another. An external level not seen in development is an error naming it.

``log`` and ``clip`` nest (``rcs(log(x), 4)``, ``log(clip(x, 1, 500))``); ``factor`` takes a column only. Inside a
call a column is a Python name or a quoted string (``log("CD19 score")``).

The external pipeline (harmonisation, case mix, complete cases) works on a model's **inputs**: the source column of
each numeric term and the dummies of each factor, before the numeric transformations; the **design** applies the
transformations (:meth:`ModelTerms.design`).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from tmesurv.errors import MAX_ROWS_SHOWN, InputError

ELEMENTWISE = ("log", "clip")
SPLINE_KNOTS = range(3, 8)  # rms::rcs allows 3 to 7 default knots
TIED_SHARE = 0.05  # Hmisc's fractied: an end value this common gets its own knot
FEW_VALUES = 100  # below this many values the outer knots are the 5th smallest and largest


@dataclass(frozen=True)
class Term:
    """One model term as written in the config, and what it does to its source column.

    Attributes
    ----------
    text
        As written (whitespace normalised): the name of its design column (rcs: of the first).
    source
        The cohort column it is computed from.
    steps
        Element-wise steps, innermost first: ``("log", ())`` or ``("clip", (lo, hi))``.
    spline_knots
        ``rcs``: the number of knots asked for (0: no spline).
    factor
        Whether the term is categorical (dummies).
    reference
        ``factor``: the reference level asked for (None: the first level).
    knots, levels
        Fitted on development: the spline's knots; the factor's levels, reference first.
    """

    text: str
    source: str
    steps: tuple[tuple[str, tuple[float, ...]], ...] = ()
    spline_knots: int = 0
    factor: bool = False
    reference: str | None = None
    knots: tuple[float, ...] = ()
    levels: tuple[str, ...] = ()

    @property
    def inputs(self) -> list[str]:
        """The columns the external pipeline carries for this term (fitted)."""
        return [dummy_name(self.source, level) for level in self.levels[1:]] if self.factor else [self.source]

    @property
    def columns(self) -> list[str]:
        """Its design columns (fitted)."""
        if self.factor:
            return self.inputs
        if self.spline_knots:
            return [self.text + "'" * j for j in range(len(self.knots) - 1)]
        return [self.text]

    def numeric(self, values: np.ndarray) -> np.ndarray:
        """The element-wise steps applied to source ``values`` (log of a value at or below 0 gives NaN)."""
        values = np.asarray(values, dtype=float)
        for name, arguments in self.steps:
            if name == "log":
                with np.errstate(divide="ignore", invalid="ignore"):
                    values = np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
            else:
                values = np.clip(values, *arguments)
        return values

    def design(self, inputs: pd.DataFrame) -> dict[str, np.ndarray]:
        """Its design columns from the pipeline's ``inputs`` (one column per :attr:`inputs`)."""
        if self.factor:
            return {name: inputs[name].to_numpy(dtype=float) for name in self.inputs}
        values = self.numeric(inputs[self.source].to_numpy(dtype=float))
        if not self.spline_knots:
            return {self.text: values}
        return dict(zip(self.columns, rcs_basis(values, np.asarray(self.knots)).T, strict=True))

    def to_json(self) -> dict:
        """What the fit saved: the text, and the knots or levels."""
        return {"term": self.text, "knots": list(self.knots), "levels": list(self.levels)}


def dummy_name(source: str, level: str) -> str:
    """The design column of one level of a factor: ``source=level``."""
    return f"{source}={level}"


def parse_term(text: str) -> Term:
    """Read a term of ``validation_model.terms`` (see the module docstring).

    Raises
    ------
    ValueError
        If it is not a column, or a known transformation of one with valid arguments.
    """
    text = " ".join(str(text).split())
    if "(" not in text:
        if not text:
            raise ValueError("a term is empty")
        return Term(text, text)
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ValueError(
            f"term '{text}' cannot be read: write a column or log(x), clip(x, lo, hi), rcs(x, k), factor(x)"
        ) from None
    return replace(_parse_call(node, text), text=_canonical(node))


def _parse_call(node: ast.expr, text: str) -> Term:
    """The term of one (possibly nested) call."""
    if isinstance(node, ast.Name) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        source = node.id if isinstance(node, ast.Name) else node.value
        return Term(text, source)
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
        raise ValueError(f"term '{text}': expected a column or log(...), clip(...), rcs(...), factor(...)")
    name, inner = node.func.id, node.args[0]
    arguments = [_number(argument, text) for argument in node.args[1:]]
    if name == "factor":
        return _factor(node, text)
    base = _parse_call(inner, text)
    if base.factor or base.spline_knots:
        raise ValueError(f"term '{text}': {name}() applies to a column, log() or clip(), not to factor() or rcs()")
    if node.keywords:
        raise ValueError(f"term '{text}': {name}() takes no named arguments")
    if name == "log" and not arguments:
        return replace(base, steps=(*base.steps, ("log", ())))
    if name == "clip" and len(arguments) == 2 and arguments[0] < arguments[1]:
        return replace(base, steps=(*base.steps, ("clip", tuple(arguments))))
    if name == "rcs" and len(arguments) == 1 and arguments[0] in SPLINE_KNOTS:
        return replace(base, spline_knots=int(arguments[0]))
    raise ValueError(
        f"term '{text}': use log(x), clip(x, lo, hi) with lo < hi, rcs(x, k) with k knots from 3 to 7, or factor(x)"
    )


def _factor(node: ast.Call, text: str) -> Term:
    inner = node.args[0]
    if len(node.args) != 1 or not isinstance(inner, ast.Name | ast.Constant) or isinstance(inner, ast.Call):
        raise ValueError(f"term '{text}': factor() takes one column (and optionally ref = level)")
    reference = None
    for keyword in node.keywords:
        if keyword.arg != "ref" or not isinstance(keyword.value, ast.Constant):
            raise ValueError(f"term '{text}': factor() takes only ref = level")
        reference = level_name(keyword.value.value)
    source = _parse_call(inner, text).source
    return Term(text, source, factor=True, reference=reference)


def _number(node: ast.expr, text: str) -> float:
    value = ast.literal_eval(node) if isinstance(node, ast.Constant | ast.UnaryOp) else None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"term '{text}': arguments after the column must be numbers")
    return float(value)


def _canonical(node: ast.expr) -> str:
    """The term's text in one spelling: ``rcs(age, 4)``, ``clip(x, 0, 10)``, ``factor(grade, ref="2")``."""
    if isinstance(node, ast.Call):
        parts = [_canonical(argument) for argument in node.args]
        parts += [f'{keyword.arg}="{level_name(keyword.value.value)}"' for keyword in node.keywords]
        return f"{node.func.id}({', '.join(parts)})"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return repr(node.value).replace("'", '"')
    value = float(ast.literal_eval(node))
    return str(int(value)) if value.is_integer() else repr(value)


def level_name(value: object) -> str:
    """A category's name: integral numbers without decimals (``2.0`` and ``2`` are level ``2``), text stripped."""
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value).strip()


def sorted_levels(levels: Sequence[str]) -> list[str]:
    """Numeric levels in numeric order, otherwise text in code-point order."""
    try:
        return sorted(levels, key=float)
    except ValueError:
        return sorted(levels)


def hmisc_knots(values: np.ndarray, k: int) -> np.ndarray:
    """Default knots of ``rms::rcs(x, k)`` (``Hmisc::rcspline.eval`` with ``fractied = 0.05``).

    Parameters
    ----------
    values
        Observed values, no missing values.
    k
        Knots asked for (3 to 7).

    Returns
    -------
    numpy.ndarray
        The sorted distinct knots (fewer than ``k`` when the values have few distinct ones, as in Hmisc).

    Raises
    ------
    ValueError
        With fewer than 6 values, or fewer than 3 distinct knots (Hmisc then tries another algorithm; choose fewer
        knots or another term).
    """
    values = np.asarray(values, dtype=float)
    if values.size < 6:
        raise ValueError(f"{values.size} values: a spline needs at least 6")
    unique, counts = np.unique(values, return_counts=True)
    knots = unique[1:-1] if unique.size - 2 <= k else _quantile_knots(values, unique, counts / values.size, k)
    knots = np.unique(knots)
    if knots.size < 3:
        raise ValueError(f"only {knots.size} distinct knots can be placed on {unique.size} distinct values")
    return knots


def _quantile_knots(values: np.ndarray, unique: np.ndarray, share: np.ndarray, k: int) -> np.ndarray:
    """Hmisc's quantile knots, with its rules for a common end value and for fewer than 100 values."""
    outer = 0.025 if k > 6 else (0.05 if k > 3 else 0.1)
    first, last, kept, inner = [], [], values, k
    if share[1:-1].max() < TIED_SHARE:
        if share[0] >= TIED_SHARE:
            first = [kept[kept > kept.min()].min()]
            kept, inner = kept[kept > first[0]], inner - 1
        if share[-1] >= TIED_SHARE:
            last = [kept[kept < kept.max()].max()]
            kept, inner = kept[kept < last[0]], inner - 1
    if inner == 1:
        middle = np.array([np.median(kept)])
    elif unique.size <= inner:
        middle = unique.copy()
    else:
        probabilities = np.linspace(0.5 if inner == 2 else outer, 1 - outer, inner)
        middle = np.quantile(kept, probabilities)
        if np.unique(middle).size < min(inner, 3):
            raise ValueError(f"fewer than {min(inner, 3)} distinct quantile knots")
        if kept.size < FEW_VALUES:
            ordered = np.sort(kept)
            if not first:
                middle[0] = ordered[4]
            if not last:
                middle[-1] = ordered[-5]
    return np.concatenate([first, middle, last])


def rcs_basis(values: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """``(n, k - 1)`` restricted cubic spline basis of R's ``rms::rcs`` (``x`` first; see the module docstring)."""
    x, t = np.asarray(values, dtype=float), np.asarray(knots, dtype=float)
    scale = (t[-1] - t[0]) ** (2 / 3)
    last, before_last = t[-1], t[-2]

    def cube(shift: float) -> np.ndarray:
        return np.maximum((x - shift) / scale, 0.0) ** 3

    columns = [
        cube(t[j]) + ((before_last - t[j]) * cube(last) - (last - t[j]) * cube(before_last)) / (last - before_last)
        for j in range(t.size - 2)
    ]
    return np.column_stack([x, *columns])


@dataclass(frozen=True)
class ModelTerms:
    """A model's terms, fitted on development (knots and levels) or read from the saved model."""

    terms: tuple[Term, ...]

    @classmethod
    def parse(cls, texts: Sequence[str]) -> ModelTerms:
        """Unfitted terms of the config's ``terms``."""
        return cls(tuple(parse_term(text) for text in texts))

    @property
    def sources(self) -> list[str]:
        """The cohort columns the terms read, in order, each once."""
        return list(dict.fromkeys(term.source for term in self.terms))

    @property
    def inputs(self) -> list[str]:
        """The pipeline's columns (numeric sources and factor dummies), in order, each once (fitted)."""
        return list(dict.fromkeys(name for term in self.terms for name in term.inputs))

    @property
    def columns(self) -> list[str]:
        """The design columns of the terms, in order (fitted)."""
        return [name for term in self.terms for name in term.columns]

    def term(self, text: str) -> Term:
        """The term written ``text`` (any spacing)."""
        wanted = parse_term(text).text
        return next(term for term in self.terms if term.text == wanted)

    def design(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """The terms' design columns from the pipeline's ``inputs`` (:meth:`encode`, then harmonised)."""
        columns: dict[str, np.ndarray] = {}
        for term in self.terms:
            columns |= term.design(inputs)
        return pd.DataFrame(columns, index=inputs.index)

    def fit(self, patients: pd.DataFrame, source: str) -> ModelTerms:
        """Levels and knots from the development patients (complete in every source column).

        Raises
        ------
        InputError
            If a factor has fewer than 2 levels or its ``ref`` is not one, or a spline's knots cannot be placed.
        """
        fitted = []
        for term in self.terms:
            if term.factor:
                fitted.append(replace(term, levels=_fit_levels(term, patients[term.source], source)))
            elif term.spline_knots:
                values = term.numeric(_numbers(patients, term.source, source))
                _require_defined(term, values, patients.index, source)
                try:
                    knots = hmisc_knots(values, term.spline_knots)
                except ValueError as error:
                    raise InputError(
                        f"file '{source}', term '{term.text}': no spline knots ({error}); use fewer knots or "
                        "another term"
                    ) from None
                fitted.append(replace(term, knots=tuple(float(knot) for knot in knots)))
            else:
                fitted.append(term)
        return ModelTerms(tuple(fitted))

    def encode(self, patients: pd.DataFrame, source: str) -> pd.DataFrame:
        """The pipeline's inputs of ``patients`` (missing values stay NaN).

        Raises
        ------
        InputError
            If a source column is missing, a numeric term has text values, ``log`` meets a value at or below 0, or a
            factor has a level not seen in development; each names the file, column and patients.
        """
        require_columns(patients, self.terms, source)
        inputs: dict[str, np.ndarray] = {}
        for term in self.terms:
            if term.factor:
                inputs |= _dummies(term, patients[term.source], source)
            else:
                values = _numbers(patients, term.source, source)
                _require_defined(term, term.numeric(values), patients.index, source, np.isfinite(values))
                inputs[term.source] = values
        return pd.DataFrame(inputs, index=patients.index)[self.inputs]

    def to_json(self) -> list[dict]:
        """The fitted terms as plain data (``validation_model.json``'s ``terms``)."""
        return [term.to_json() for term in self.terms]

    @classmethod
    def from_json(cls, data: Sequence[Mapping]) -> ModelTerms:
        """Read what :meth:`to_json` wrote."""
        terms = []
        for item in data:
            term = parse_term(item["term"])
            terms.append(replace(term, knots=tuple(map(float, item["knots"])), levels=tuple(map(str, item["levels"]))))
        return cls(tuple(terms))


def require_columns(patients: pd.DataFrame, terms: Sequence[Term], source: str) -> None:
    """An error naming the file, the first missing source column and its model term."""
    for term in terms:
        if term.source not in patients.columns:
            raise InputError(
                f"file '{source}' has no column '{term.source}' for the model term '{term.text}': add it, or list it "
                "in data.biomarkers or data.covariates of the config (under the same name as in the model)"
            )


def _numbers(patients: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """A numeric column as floats (NaN where missing); an error naming the patients with text values."""
    raw = patients[column]
    numeric = pd.to_numeric(raw, errors="coerce").astype(float)
    text = raw.notna().to_numpy() & numeric.isna().to_numpy()
    if text.any():
        examples = ", ".join(repr(value) for value in raw[text].astype(str).unique()[:3])
        raise InputError(
            f"file '{source}', column '{column}', {describe_ids(list(raw.index[text]))}: the model term must be "
            f"numeric, found {examples}. Recode it, or make it a categorical term: factor({column})"
        )
    return numeric.to_numpy()


def _require_defined(
    term: Term, transformed: np.ndarray, index: pd.Index, source: str, known: np.ndarray | None = None
) -> None:
    """An error naming the patients whose known value the term's transformation cannot take (log of x <= 0)."""
    bad = ~np.isfinite(transformed) & (np.ones(transformed.size, bool) if known is None else known)
    if bad.any():
        raise InputError(
            f"file '{source}', column '{term.source}', {describe_ids(list(index[bad]))}: term '{term.text}' is not "
            "defined there (log of a value at or below 0); clip the column first, e.g. log(clip(x, 0.1, 1e9))"
        )


def _fit_levels(term: Term, raw: pd.Series, source: str) -> tuple[str, ...]:
    """A factor's development levels, reference first."""
    levels = sorted_levels(sorted({level_name(value) for value in raw.dropna()}))
    if len(levels) < 2:
        raise InputError(
            f"file '{source}', column '{term.source}': term '{term.text}' has {len(levels)} level(s) among the "
            "development patients; a factor needs at least 2 (drop the term)"
        )
    if term.reference is not None:
        if term.reference not in levels:
            raise InputError(
                f"file '{source}', column '{term.source}': the reference level '{term.reference}' of '{term.text}' "
                f"is not among its levels ({', '.join(levels)})"
            )
        levels.remove(term.reference)
        levels.insert(0, term.reference)
    return tuple(levels)


def _dummies(term: Term, raw: pd.Series, source: str) -> dict[str, np.ndarray]:
    """0/1 dummies of every level but the reference (NaN where missing); an error naming an unseen level."""
    present = raw.notna().to_numpy()
    names = np.array([level_name(value) if known else "" for value, known in zip(raw, present, strict=True)])
    unseen = present & ~np.isin(names, term.levels)
    if unseen.any():
        new = ", ".join(f"'{level}'" for level in dict.fromkeys(names[unseen]))
        raise InputError(
            f"file '{source}', column '{term.source}', {describe_ids(list(raw.index[unseen]))}: level {new} of "
            f"term '{term.text}' was not seen in development (levels {', '.join(term.levels)}); recode it to one "
            "of those levels or leave it missing"
        )
    return {
        dummy_name(term.source, level): np.where(present, (names == level).astype(float), np.nan)
        for level in term.levels[1:]
    }


def describe_ids(ids: list[str]) -> str:
    """``"patients P1, P2 and 3 more"``: the first few patient ids."""
    shown, extra = ", ".join(map(str, ids[:MAX_ROWS_SHOWN])), len(ids) - MAX_ROWS_SHOWN
    return ("patient " if len(ids) == 1 else "patients ") + shown + (f" and {extra} more" if extra > 0 else "")
