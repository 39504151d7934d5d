"""Every package of the source tree is declared in pyproject.toml, so a normal (not editable) install has it."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {package: ROOT / path for package, path in setuptools["package-dir"].items()}
    found = set()
    for package, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            found.add(".".join((package, *relative)))
    found |= {f"tmesurv.{p.parent.relative_to(ROOT / 'tmesurv').as_posix().replace('/', '.')}"
              for p in (ROOT / "tmesurv").rglob("__init__.py") if p.parent != ROOT / "tmesurv"}  # fmt: skip
    assert sorted(found - set(setuptools["packages"])) == []
