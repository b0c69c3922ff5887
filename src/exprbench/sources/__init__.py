"""Dataset sources: one module each, discovered automatically.

A source subclasses :class:`DataSource`, sets ``name`` and ``label_columns`` and
implements ``build``. A dataset entry in the config names the source and its params.
"""

from __future__ import annotations

from typing import ClassVar

from ..registry import Registry
from ..store import ExpressionData

SOURCES = Registry("dataset source", __name__)


class DataSource:
    """Builds one dataset in memory; the workflow writes it to the store."""

    name: ClassVar[str]
    #: Label columns the built samples table always has (checked by the config).
    label_columns: ClassVar[tuple[str, ...]] = ()
    #: Params a dataset entry may set, with their defaults.
    defaults: ClassVar[dict] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            SOURCES.register(cls)

    def __init__(self, **params):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"source {self.name!r} has no parameter(s) {unknown}; allowed: {sorted(self.defaults)}"
            )
        self.params = {**self.defaults, **params}

    @classmethod
    def labels_for(cls, params: dict) -> tuple[str, ...]:
        """Label columns a dataset with these params will have."""
        return cls.label_columns

    def build(self) -> ExpressionData:
        raise NotImplementedError
