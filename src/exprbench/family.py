"""Benchmark families as plugins: one subpackage of ``exprbench`` each.

A family's ``__init__.py`` sets ``FAMILY = Family(name=..., title=...)``. The rest is
found by convention inside the subpackage, so adding a family edits nothing else:

- ``schema.yaml``: the JSON schema of its config section (the section key is ``name``);
- ``settings.py``: ``resolve(section, config, file)``, ``labels_used(resolved)`` and
  ``jobs(resolved)``;
- ``cli.py``: ``add_commands(subparsers)``;
- ``rules.smk``: its Snakemake rules, which register their final files in
  ``FAMILY_OUTPUTS[name]`` (see docs/extending.md).

The classification family is the exception in one respect only: its config keys
(``tasks``, ``defaults``) sit at the top level, for the configs users already have.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Family:
    name: str  # its config section and results subfolder
    title: str  # for people: report category, end-of-run messages
    # Config keys it reads; a section of its own unless it says otherwise.
    config_keys: tuple[str, ...] = ()
    # Order among families in messages and the report; ties by name.
    order: int = 100

    @property
    def package(self) -> str:
        return f"exprbench.{self.name}"

    @property
    def keys(self) -> tuple[str, ...]:
        return self.config_keys or (self.name,)

    def settings(self):
        return importlib.import_module(f"{self.package}.settings")

    def cli(self):
        return importlib.import_module(f"{self.package}.cli")

    def module(self, name: str):
        """One of its modules, e.g. ``models``."""
        return importlib.import_module(f"{self.package}.{name}")

    def plan(self):
        """Its ``plan.py`` (what its jobs fit, for ``exprbench plan``), or None."""
        if importlib.util.find_spec(f"{self.package}.plan") is None:
            return None
        return importlib.import_module(f"{self.package}.plan")

    @property
    def schema_name(self) -> str:
        """For ``config.load_schema``: the package and the file inside it."""
        return f"{self.package}/schema.yaml"

    @property
    def rules_file(self) -> Path:
        return Path(str(resources.files(self.package).joinpath("rules.smk")))

    def in_config(self, config: dict) -> bool:
        return any(key in config for key in self.keys)


@functools.cache
def _discover() -> tuple[Family, ...]:
    package = importlib.import_module("exprbench")
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg or info.name.startswith("_"):
            continue
        family = getattr(importlib.import_module(f"exprbench.{info.name}"), "FAMILY", None)
        if family is None:
            continue
        if family.name != info.name:
            raise RuntimeError(f"exprbench.{info.name} declares a family named {family.name!r}; "
                               f"a family's name is its subpackage's name")
        found.append(family)
    return tuple(sorted(found, key=lambda f: (f.order, f.name)))


def families() -> tuple[Family, ...]:
    """Every family of the installed package, in display order."""
    return _discover()


def family(name: str) -> Family:
    for candidate in families():
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown family {name!r}; available: {', '.join(f.name for f in families())}")


def section_families() -> tuple[Family, ...]:
    """The families configured by a section of their own (all but classification)."""
    return tuple(f for f in families() if not f.config_keys)
