"""Estimator parameters: one vocabulary, declared constraints, small test settings.

Every estimator or method class of a family declares, next to its ``__init__``:

- ``_parameter_constraints``: for each parameter, a list of allowed forms in
  scikit-learn's style (``Interval``, ``StrOptions``, ``Options``, a type such as
  ``list``, ``"boolean"``, ``None``); a value is allowed when one form accepts it;
- ``_test_params``: settings small enough for the contract test
  (tests/test_estimator_contract.py) to fit the class in well under a second;
- ``_test_data(rng)`` (a classmethod) and ``_test_outputs(self, data)``: a tiny fit's
  arguments and what the fitted estimator returns for them (usually shared by a
  family's base class).

Config resolution calls :func:`check_params` on the values a config gives, so a
bad value stops ``check-config`` before any job, and :func:`translate_renamed`
first, so configs that use an old parameter name keep working with a warning.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, Options, StrOptions, make_constraint

from .config import ConfigError

__all__ = ["BOOLEAN", "DEVICE", "SEED", "Integral", "Interval", "Options", "Real", "RenamedKeyWarning", "StrOptions",
           "accept_renamed", "at_least", "bad_value", "between", "check_bounds", "check_params",
           "constrained_classes", "describe", "positive", "translate_renamed", "value_problem"]

# Old parameter names and the scikit-learn glossary's word that replaced them.
RENAMED = {"lr": "learning_rate", "epochs": "max_epochs", "seed": "random_state"}


class RenamedKeyWarning(DeprecationWarning):
    """A config key that still works under its old name."""


# DeprecationWarning is hidden outside __main__; these are meant for the user who runs a
# config, so show each (file, key) once.
warnings.filterwarnings("default", category=RenamedKeyWarning)


def translate_renamed(params: dict, known, file, key: str) -> dict:
    """``params`` with old names (``lr``, ``epochs``, ``seed``) replaced by their new ones
    where the estimator (parameters ``known``) has the new one and not the old one."""
    known = set(known)
    translated = {}
    for name, value in params.items():
        new = RENAMED.get(name)
        if new is not None and name not in known and new in known:
            if new in params:
                raise ConfigError(file, f"{key}.{name}", f"{name!r} is the old name of {new!r}, which is set too; "
                                  f"keep {new!r} only")
            warnings.warn(f"{file}: {key}.{name} is deprecated; use {key}.{new} (the old key still works for now)",
                          RenamedKeyWarning, stacklevel=2)
            name = new
        translated[name] = value
    return translated


def accept_renamed(estimator, keywords: dict) -> None:
    """Set keyword arguments passed under an old name (``lr=...``) on their new
    attribute, with a warning; any other unknown keyword is a TypeError as usual."""
    known = set(estimator._get_param_names())
    for name, value in keywords.items():
        new = RENAMED.get(name)
        if new is None or new not in known:
            raise TypeError(f"{type(estimator).__name__}.__init__() got an unexpected keyword argument {name!r}")
        warnings.warn(f"{type(estimator).__name__}: {name} is deprecated; use {new}", RenamedKeyWarning, stacklevel=3)
        setattr(estimator, new, value)


# Forms shared by many classes.
DEVICE = StrOptions({"auto", "cpu", "cuda"})
SEED = Interval(Integral, 0, None, closed="left")
BOOLEAN = "boolean"


def positive(kind=Real) -> Interval:
    return Interval(kind, 0, None, closed="neither")


def at_least(low, kind=Integral) -> Interval:
    return Interval(kind, low, None, closed="left")


def between(low, high, closed: str = "both", kind=Real) -> Interval:
    return Interval(kind, low, high, closed=closed)


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe(constraint) -> str:
    """A constraint in words, e.g. ``> 0``, ``an integer >= 1``, ``one of a, b``."""
    if isinstance(constraint, Interval):
        kind = "an integer " if constraint.type is Integral else ""
        left, right = constraint.left, constraint.right
        low = "" if left is None else (">= " if constraint.closed in ("left", "both") else "> ") + _number(left)
        high = "" if right is None else ("<= " if constraint.closed in ("right", "both") else "< ") + _number(right)
        if low and high:
            return f"{kind}{low} and {high}"
        return f"{kind}{low or high}".strip() or "a number"
    if isinstance(constraint, Options):
        return "one of " + ", ".join(sorted(map(str, constraint.options)))
    if constraint is None:
        return "null"
    if constraint == "boolean":
        return "true or false"
    if isinstance(constraint, type):
        words = {list: "a list", tuple: "a list", dict: "a mapping", str: "a string"}
        return words.get(constraint, constraint.__name__)
    return str(constraint)


def _satisfied(constraint, value) -> bool:
    if isinstance(constraint, Interval) and isinstance(value, bool):
        return False  # true/false is no number in a config
    return make_constraint(constraint).is_satisfied_by(value)


def value_problem(constraints, value) -> str | None:
    """Why ``value`` fits none of ``constraints``, or None when one accepts it."""
    if constraints is None or any(_satisfied(c, value) for c in constraints):
        return None
    allowed = " or ".join(describe(c) for c in constraints)
    in_range_kind = any(isinstance(c, Interval) for c in constraints) and isinstance(value, Real) \
        and not isinstance(value, bool)
    if in_range_kind and not (isinstance(value, float) and math.isnan(value)):
        integer_only = all(c.type is Integral for c in constraints if isinstance(c, Interval))
        if integer_only and not float(value).is_integer():
            return f"{value!r} is not an integer; it must be {allowed}"
        return f"{value!r} is out of range; it must be {allowed}"
    return f"{value!r} is not allowed; it must be {allowed}"


def check_params(cls, params: dict, file, key: str) -> None:
    """Raise ConfigError for the first value of ``params`` that ``cls`` does not allow."""
    constraints = getattr(cls, "_parameter_constraints", None) or {}
    for name, value in params.items():
        problem = value_problem(constraints.get(name), value)
        if problem:
            raise ConfigError(file, f"{key}.{name}", problem)


def check_bounds(cls, name: str, bounds, file, key: str) -> None:
    """Each end of a search range (``uniform``, ``log_uniform``) or each ``choice``."""
    constraints = (getattr(cls, "_parameter_constraints", None) or {}).get(name)
    for value in bounds:
        problem = value_problem(constraints, value)
        if problem:
            raise ConfigError(file, key, problem)



def bad_value(constraints):
    """A value none of ``constraints`` accepts (for the contract test), or None if every
    candidate is accepted."""
    candidates = [-1, -0.5, 0, 0.5, 1.5, 10**9, "not-an-option", [], {}, None]
    for intervals in [c for c in constraints if isinstance(c, Interval)]:
        for end in (intervals.left, intervals.right):
            if end is not None:
                candidates += [end - 1, end, end + 1]
    for value in candidates:
        if value_problem(constraints, value):
            return value
    return None


def constrained_classes(registry) -> list[type]:
    """The classes of a registry that declare parameter constraints."""
    return [registry.get(name) for name in registry.names()
            if getattr(registry.get(name), "_parameter_constraints", None) is not None]
