"""Access to R through rpy2: starting R, checking packages, reading ExpressionSets.

Bioconductor data packages (ALL, bladderbatch, ...) ship their datasets as
``ExpressionSet`` objects. This module is the one place that reaches into R to read
them; it hands back plain numpy/pandas objects so the dataset sources stay free of
rpy2. ``limma.py`` uses the same helpers to start R and check that limma is installed.

rpy2 is imported lazily: importing this module works without R, and the first call
that needs R raises :class:`RUnavailableError` with install instructions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

CONDA_ENV_FILE = "envs/r-limma.yaml"


class RUnavailableError(RuntimeError):
    """R, or rpy2's link to it, cannot be used."""


class RPackageMissingError(RUnavailableError):
    """R works but a required R package is not installed."""


class RDataError(RuntimeError):
    """An installed R package does not hold the expected ExpressionSet."""


def debian_package(r_package: str) -> str:
    """The Debian package that ships a Bioconductor package (``ALL`` -> ``r-bioc-all``)."""
    return f"r-bioc-{r_package.lower()}"


def _install_hint(debian_packages: list[str]) -> str:
    return (
        f"install it with `apt-get install {' '.join(debian_packages)}` "
        f"or use the conda environment: `conda env create -f {CONDA_ENV_FILE}`"
    )


def r_objects():
    """Return ``rpy2.robjects`` with the embedded R started.

    Raises :class:`RUnavailableError` when rpy2 is not installed or cannot find R.
    """
    library_path = os.environ.get("LD_LIBRARY_PATH")
    try:
        import rpy2.robjects as robjects
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("rpy2"):
            raise
        raise RUnavailableError("rpy2 is not installed; install exprbench's dependencies with `make setup`") from err
    except (ImportError, OSError, RuntimeError, ValueError) as err:
        # rpy2 starts R on import; a missing libR or R_HOME surfaces here.
        raise RUnavailableError(f"rpy2 cannot start R ({err}); " + _install_hint(["r-base-core"])) from err
    finally:
        # Starting R puts R's and the system's library folders first on LD_LIBRARY_PATH.
        # This process has loaded R already; child processes (a Python of another
        # build, say) must not load the system's libraries in place of their own.
        _restore_environment("LD_LIBRARY_PATH", library_path)
    return robjects


def _restore_environment(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def require_r_package(r_package: str) -> None:
    """Raise :class:`RPackageMissingError` unless ``r_package`` can be loaded in R."""
    robjects = r_objects()
    found = robjects.r["requireNamespace"](r_package, quietly=True)[0]
    if not found:
        raise RPackageMissingError(
            f"R package {r_package!r} is not installed; " + _install_hint([debian_package(r_package)])
        )


def r_package_version(r_package: str) -> str:
    """The installed version of an R package, as R's ``packageVersion`` prints it."""
    require_r_package(r_package)
    robjects = r_objects()
    return str(robjects.r("function(p) as.character(utils::packageVersion(p))")(r_package)[0])


@dataclass(frozen=True)
class RExpressionSet:
    """An ExpressionSet converted to Python, oriented samples x features."""

    expression: np.ndarray  # float32 [n_samples, n_features]
    phenotypes: pd.DataFrame  # pData: one row per sample, object columns, None where R had NA
    feature_names: list[str]
    sample_names: list[str]
    package_version: str
    annotation: str  # the array platform R records, e.g. "hgu95av2"


# Factors are turned into character vectors in R: rpy2's numpy converter fails on
# factors holding NA, and character vectors arrive as str/None without surprises.
_READ_EXPRESSION_SET = """
function(package, dataset, object) {
    env <- new.env()
    suppressMessages(utils::data(list = dataset, package = package, envir = env))
    if (!exists(object, envir = env, inherits = FALSE))
        stop(sprintf("data(%s, package = '%s') did not define '%s'", dataset, package, object))
    eset <- get(object, envir = env)
    if (!methods::is(eset, "ExpressionSet"))
        stop(sprintf("'%s' is a %s, not an ExpressionSet", object, class(eset)[1]))
    suppressMessages(list(
        exprs = Biobase::exprs(eset),
        pheno = lapply(Biobase::pData(eset), as.character),
        features = as.character(Biobase::featureNames(eset)),
        samples = as.character(Biobase::sampleNames(eset)),
        annotation = as.character(Biobase::annotation(eset)),
        version = as.character(utils::packageVersion(package))
    ))
}
"""


def load_expression_set(package: str, object_name: str, dataset: str | None = None) -> RExpressionSet:
    """Read the ExpressionSet ``object_name`` from the installed R data package ``package``.

    ``dataset`` is the name given to R's ``data()`` when it differs from the object's
    (bladderbatch: ``data(bladderdata)`` defines ``bladderEset``).
    """
    require_r_package("Biobase")
    require_r_package(package)
    robjects = r_objects()
    from rpy2.rinterface_lib.embedded import RRuntimeError
    from rpy2.robjects import numpy2ri
    from rpy2.robjects.conversion import localconverter

    reader = robjects.r(_READ_EXPRESSION_SET)
    try:
        with localconverter(robjects.default_converter + numpy2ri.converter):
            result = reader(package, dataset or object_name, object_name)
            fields = dict(result.items())  # named R lists arrive as rpy2 OrdDicts
            # R stores features x samples column-major: the transpose is a C-ordered view.
            expression = np.asarray(fields["exprs"]).T.astype(np.float32)
            columns = {str(name): np.asarray(values, dtype=object) for name, values in fields["pheno"].items()}
            features = [str(v) for v in fields["features"]]
            samples = [str(v) for v in fields["samples"]]
            annotation = str(fields["annotation"][0]) if len(fields["annotation"]) else ""
            version = str(fields["version"][0])
    except RRuntimeError as err:
        raise RDataError(f"R could not read {object_name} from package {package}: {err}") from err

    phenotypes = pd.DataFrame(columns, index=pd.Index(samples, dtype=object), dtype=object)
    if expression.shape != (len(samples), len(features)):
        raise RDataError(
            f"{package}::{object_name}: matrix {expression.shape} does not match "
            f"{len(samples)} samples x {len(features)} features"
        )
    return RExpressionSet(expression, phenotypes, features, samples, version, annotation)
