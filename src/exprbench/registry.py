"""Plugin discovery: every module in a package is imported, and classes that set
``name`` register themselves. Adding a model or a source is adding one file."""

from __future__ import annotations

import importlib
import pkgutil


class Registry:
    def __init__(self, kind: str, package: str):
        self.kind = kind
        self.package = package
        self._classes: dict[str, type] = {}
        self._loaded = False

    def register(self, cls: type) -> None:
        name = cls.name
        if name in self._classes and self._classes[name] is not cls:
            raise RuntimeError(f"two {self.kind}s are named {name!r}: {self._classes[name]} and {cls}")
        self._classes[name] = cls

    def _load(self) -> None:
        if not self._loaded:
            module = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(module.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{info.name}")
            self._loaded = True

    def names(self) -> list[str]:
        self._load()
        return sorted(self._classes)

    def get(self, name: str) -> type:
        self._load()
        try:
            return self._classes[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}") from None
