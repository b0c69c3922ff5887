"""The estimator contract, checked on every registered estimator of every family.

Registries are found, not listed: each family's subpackages are searched for
``Registry`` objects. A class takes part by declaring ``_parameter_constraints``,
``_test_params``, ``_test_data`` and ``_test_outputs`` (see exprbench.params); once one
class of a registry declares them, every class of that registry must. A new method is
covered without editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest
from sklearn.base import clone

from exprbench.config import ConfigError
from exprbench.family import families
from exprbench.params import bad_value, check_params
from exprbench.registry import Registry


def _registries() -> list[tuple[str, Registry]]:
    found = []
    for family in families():
        package = importlib.import_module(family.package)
        for info in pkgutil.iter_modules(package.__path__):
            if info.ispkg and not info.name.startswith("_"):
                module = importlib.import_module(f"{family.package}.{info.name}")
                found += [(family.name, value) for value in vars(module).values() if isinstance(value, Registry)]
    return found


def _declares(cls) -> bool:
    return "_parameter_constraints" in dir(cls)


REGISTRIES = _registries()
OPTED_IN = [(family, registry) for family, registry in REGISTRIES
            if any(_declares(registry.get(name)) for name in registry.names())]
ESTIMATORS = [pytest.param(registry.get(name), id=f"{family}:{name}")
              for family, registry in OPTED_IN for name in registry.names()]


def _fit(cls, **params):
    estimator = cls(**{**cls._test_params, **params})
    data = cls._test_data(np.random.default_rng(0))
    args, kwargs = data
    before = set(vars(estimator))
    fitted = estimator.fit(*args, **kwargs)
    return estimator, fitted, data, set(vars(estimator)) - before


def test_every_family_with_estimators_has_opted_in():
    # The four families built before the contract declare it on every class.
    names = {family for family, _ in OPTED_IN}
    assert {"classification", "inference", "ssl", "compressed_sensing"} <= names, names


@pytest.mark.parametrize("family,registry", [pytest.param(f, r, id=r.kind) for f, r in OPTED_IN])
def test_every_class_of_an_opted_in_registry_declares_the_contract(family, registry):
    missing = [name for name in registry.names()
               if not all(hasattr(registry.get(name), attr)
                          for attr in ("_parameter_constraints", "_test_params", "_test_data", "_test_outputs"))]
    assert not missing, f"{registry.kind}s without the contract's declarations: {missing}"


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_plain_init_stores_params_and_clones(cls):
    estimator = cls(**cls._test_params)
    params = estimator.get_params(deep=False)
    assert all(params[name] is value for name, value in cls._test_params.items())
    twin = clone(estimator)  # raises if __init__ changed or dropped a parameter
    assert twin.get_params(deep=False).keys() == params.keys()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_constraints_cover_every_param_and_refuse_a_bad_value(cls):
    params = cls().get_params(deep=False)
    constraints = cls._parameter_constraints
    assert set(constraints) == set(params), f"undeclared: {set(params) - set(constraints)}, " \
                                            f"unknown: {set(constraints) - set(params)}"
    check_params(cls, params, "defaults", "params")  # the defaults are allowed
    check_params(cls, cls._test_params, "test settings", "params")
    refusable = {name: bad_value(allowed) for name, allowed in constraints.items()}
    refusable = {name: value for name, value in refusable.items() if value is not None}
    assert refusable or not params, "no parameter refuses any value"
    for name, value in refusable.items():
        with pytest.raises(ConfigError, match=rf"params\.{name}: "):
            check_params(cls, {name: value}, "model.yaml", "params")


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_returns_self_learns_underscored_attributes_and_is_seeded(cls):
    seeded = {"random_state": 1} if "random_state" in cls().get_params() else {}
    estimator, fitted, data, learned = _fit(cls, **seeded)
    assert fitted is estimator
    assert learned and all(name.endswith("_") or name.startswith("_") for name in learned), learned
    first = np.asarray(estimator._test_outputs(data))
    again, _, data_again, _ = _fit(cls, **seeded)
    assert np.array_equal(first, np.asarray(again._test_outputs(data_again)), equal_nan=True)
