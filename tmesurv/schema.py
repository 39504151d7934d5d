"""The base of every settings schema (config sections, model settings, scenarios, studies) and its error messages.

Unknown keys are errors, values are immutable, and a validation error becomes one line per problem naming the key
path, so a typo never passes silently. Pydantic only: model settings import it without importing the config.
"""

from __future__ import annotations

import difflib
import typing

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """Base for settings and config sections: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def describe_validation_error(error: ValidationError, source: str, schema: type[BaseModel]) -> str:
    """One line per problem, each naming the key path; unknown keys get a did-you-mean suggestion.

    Parameters
    ----------
    error
        What pydantic raised.
    source
        How to name the file in the message (for example ``"config file 'a.yaml'"``).
    schema
        The model that was validated, to list the keys it knows.

    Returns
    -------
    str
        The message.
    """
    problems = [_describe_problem(problem, schema) for problem in error.errors()]
    return f"{source}:\n  - " + "\n  - ".join(problems)


def _describe_problem(problem: dict, schema: type[BaseModel]) -> str:
    location = ".".join(str(part) for part in problem["loc"])
    if problem["type"] == "extra_forbidden":
        key = str(problem["loc"][-1])
        siblings = _known_keys(schema, problem["loc"][:-1])
        hint = difflib.get_close_matches(key, siblings, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else f" (known keys: {', '.join(siblings)})"
        return f"unknown key '{location}'{suggestion}"
    if problem["type"] == "missing":
        return f"missing key '{location}'"
    return f"'{location}': {problem['msg']}" if location else problem["msg"]


def _known_keys(schema: type[BaseModel], parent_location: tuple) -> list[str]:
    model: type[BaseModel] | None = schema
    for part in parent_location:
        field = model.model_fields.get(str(part)) if model else None
        model = _model_in(field.annotation) if field else None
    return list(model.model_fields) if model else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The section class an annotation holds (also inside ``X | None``)."""
    candidates = [annotation, *typing.get_args(annotation)]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
