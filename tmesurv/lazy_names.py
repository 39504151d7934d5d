"""Names of a package that are imported on first use (PEP 562), so that importing the package stays cheap."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports each name from its module when it is first used.

    Parameters
    ----------
    package
        The package's ``__name__``.
    modules
        Name -> the module that defines it.

    Returns
    -------
    Callable[[str], Any]
        Assign it to the package's ``__getattr__``. A name, once imported, is kept in the package; any other name
        raises :class:`AttributeError`.
    """

    def attribute(name: str) -> Any:
        if name not in modules:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        value = getattr(importlib.import_module(modules[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    return attribute
