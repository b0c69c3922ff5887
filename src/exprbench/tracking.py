"""Optional experiment trackers for training jobs.

Every job writes its own result files; a tracker only mirrors params and
metrics somewhere else. The default writes nothing. The MLflow and Neptune
backends are extras (``pip install 'exprbench[mlflow]'`` or
``'exprbench[neptune]'``), imported only when a config asks for them.

MLflow's default store is a folder of plain files (``<results_dir>/mlruns``),
so it works offline and many fit jobs can write to it at once; read it with
``mlflow ui --backend-store-uri <folder>`` or ``mlflow.tracking.MlflowClient``.

Neptune's ``sync`` command only accepts a folder named ``.neptune`` (or one
that contains it), so a custom ``data_dir`` should end in ``.neptune`` if its
offline runs are to be uploaded later.
"""

from __future__ import annotations

import abc
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TRACKER_BACKENDS = ("none", "mlflow", "neptune")
NEPTUNE_MODES = ("offline", "async", "debug")
NEPTUNE_TOKEN_VARIABLE = "NEPTUNE_API_TOKEN"
NEPTUNE_PROJECT_VARIABLE = "NEPTUNE_PROJECT"
NEPTUNE_SPEC_KEYS = ("backend", "mode", "project", "data_dir")
MLFLOW_SPEC_KEYS = ("backend", "tracking_uri", "experiment")
# The keys each backend reads; the config fills defaults only for its own backend's.
BACKEND_SPEC_KEYS = {"none": ("backend",), "mlflow": MLFLOW_SPEC_KEYS, "neptune": NEPTUNE_SPEC_KEYS}
MLFLOW_DEFAULT_EXPERIMENT = "exprbench"


class Tracker(abc.ABC):
    """What a training job may call; closing happens on leaving a ``with`` block."""

    @abc.abstractmethod
    def log_params(self, params: dict[str, Any]) -> None:
        """Record the job's hyperparameters, once per run."""

    @abc.abstractmethod
    def log_epoch(self, epoch: int, **metrics: float) -> None:
        """Append one value per metric (e.g. train_loss, val_loss) at step ``epoch``."""

    @abc.abstractmethod
    def log_summary(self, **metrics: float) -> None:
        """Record the final metrics of the run."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release; safe to call more than once."""

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


class NullTracker(Tracker):
    """Accepts every call and records nothing."""

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def log_epoch(self, epoch: int, **metrics: float) -> None:
        pass

    def log_summary(self, **metrics: float) -> None:
        pass

    def close(self) -> None:
        pass


class NeptuneTracker(Tracker):
    """Logs to a Neptune 1.x run: ``params``, ``train/<metric>`` series, ``summary``.

    The API token comes only from the NEPTUNE_API_TOKEN environment variable
    and only the "async" mode uses it; offline and debug runs never see it.
    """

    def __init__(
        self,
        run_name: str,
        mode: str = "offline",
        project: str | None = None,
        data_dir: str | os.PathLike = ".neptune",
        tags: list[str] | None = None,
    ):
        if mode not in NEPTUNE_MODES:
            raise ValueError(f"unknown neptune mode {mode!r}; allowed: {', '.join(NEPTUNE_MODES)}")
        api_token = None
        if mode == "async":
            # Checked before neptune is touched, so a misconfigured job fails
            # at once instead of after network retries.
            api_token = os.environ.get(NEPTUNE_TOKEN_VARIABLE)
            if not api_token:
                raise ValueError(
                    f"neptune mode 'async' needs the API token in the environment variable "
                    f"{NEPTUNE_TOKEN_VARIABLE}; it is never read from the config"
                )
            if not (project or os.environ.get(NEPTUNE_PROJECT_VARIABLE)):
                raise ValueError(
                    "neptune mode 'async' needs a project: set tracker.project to "
                    f"'workspace/project' or the environment variable {NEPTUNE_PROJECT_VARIABLE}"
                )
        neptune = _import_neptune()
        # Absolute, because neptune keeps the path it builds at init and a job
        # that later changes directory would otherwise write elsewhere.
        self.data_dir = Path(data_dir).resolve()
        with _environment_variable("NEPTUNE_DATA_DIRECTORY", str(self.data_dir)):
            self.run = neptune.init_run(
                mode=mode,
                project=project,
                api_token=api_token,
                name=run_name,
                tags=list(tags or []),
                # Record only what the job logs: captured stdout/stderr and git
                # remote URLs can carry secrets, and hardware monitoring adds a
                # background thread that the result files do not need.
                capture_stdout=False,
                capture_stderr=False,
                capture_hardware_metrics=False,
                source_files=[],
                git_ref=False,
            )
        self._stringify_unsupported = neptune.utils.stringify_unsupported
        self._closed = False

    def log_params(self, params: dict[str, Any]) -> None:
        # Neptune rejects lists, tuples and None; they are stored as strings.
        self.run["params"] = self._stringify_unsupported(_plain(params))

    def log_epoch(self, epoch: int, **metrics: float) -> None:
        for name, value in metrics.items():
            self.run[f"train/{name}"].append(float(_plain(value)), step=epoch)

    def log_summary(self, **metrics: float) -> None:
        self.run["summary"] = self._stringify_unsupported(_plain(metrics))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.run.stop()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and not self._closed:
            self.run["sys/failed"] = True
        self.close()


class MlflowTracker(Tracker):
    """Logs to an MLflow run: params, per-epoch metric history, final metrics.

    ``tracking_uri`` is a folder (a local file store), ``file:``/``sqlite:``
    URI or a tracking server's ``http(s)://`` address. Runs go into the
    experiment ``experiment``, named ``run_name`` and tagged with ``tags``.
    """

    def __init__(self, run_name: str, tracking_uri: str | os.PathLike, experiment: str = MLFLOW_DEFAULT_EXPERIMENT,
                 tags: list[str] | None = None):
        self.tracking_uri = _mlflow_uri(tracking_uri)
        self._environment = contextlib.ExitStack()
        # Telemetry is read when mlflow is imported: off unless the user turned it on.
        self._environment.enter_context(_environment_default("MLFLOW_DISABLE_TELEMETRY", "true"))
        if self.tracking_uri.startswith("file:"):
            # MLflow 3 keeps the file store only on request; it needs no database
            # package and takes concurrent writers, which parallel fit jobs are.
            self._environment.enter_context(_environment_default("MLFLOW_ALLOW_FILE_STORE", "true"))
        try:
            mlflow_tracking = _import_mlflow()
            self.client = mlflow_tracking.MlflowClient(self.tracking_uri)
            self.experiment_id = self._experiment_id(experiment)
            run_tags = {"exprbench.tags": ",".join(tags)} if tags else {}
            self.run_id = self.client.create_run(self.experiment_id, run_name=run_name, tags=run_tags).info.run_id
        except BaseException:
            self._environment.close()
            raise
        self._closed = False

    def _experiment_id(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(name)
        except Exception:
            # Another job created it between the lookup and the creation.
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        # MLflow stores every parameter as a string; None, lists and dicts included.
        self.client.log_batch(self.run_id, params=[Param(str(k), str(v)) for k, v in _plain(params).items()])

    def log_epoch(self, epoch: int, **metrics: float) -> None:
        for name, value in metrics.items():
            self.client.log_metric(self.run_id, f"train/{name}", float(_plain(value)), step=int(epoch))

    def log_summary(self, **metrics: float) -> None:
        for name, value in _plain(metrics).items():
            self.client.log_metric(self.run_id, f"summary/{name}", float(value))

    def close(self, status: str = "FINISHED") -> None:
        if not self._closed:
            self._closed = True
            try:
                self.client.set_terminated(self.run_id, status=status)
            finally:
                self._environment.close()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close("FAILED" if exc_type is not None else "FINISHED")


def make_tracker(spec: dict[str, Any] | None, run_name: str, tags: list[str] | None = None) -> Tracker:
    """Build the tracker that a config's ``tracker`` block describes (default: none)."""
    spec = dict(spec or {})
    backend = spec.get("backend", "none")
    if backend not in TRACKER_BACKENDS:
        raise ValueError(f"unknown tracker backend {backend!r}; allowed: {', '.join(TRACKER_BACKENDS)}")
    if backend == "none":
        return NullTracker()
    if backend == "mlflow":
        unknown = sorted(set(spec) - set(MLFLOW_SPEC_KEYS))
        if unknown:
            raise ValueError(f"unknown tracker keys {unknown} for backend mlflow; "
                             f"allowed: {', '.join(MLFLOW_SPEC_KEYS)}")
        if "tracking_uri" not in spec:
            raise ValueError("tracker.tracking_uri is needed for backend mlflow (the config sets <results_dir>/mlruns)")
        return MlflowTracker(run_name, spec["tracking_uri"], spec.get("experiment", MLFLOW_DEFAULT_EXPERIMENT), tags)
    if "api_token" in spec:
        raise ValueError(
            f"tracker.api_token is not read from the config; set the environment variable {NEPTUNE_TOKEN_VARIABLE}"
        )
    unknown = sorted(set(spec) - set(NEPTUNE_SPEC_KEYS))
    if unknown:
        raise ValueError(f"unknown tracker keys {unknown}; allowed: {', '.join(NEPTUNE_SPEC_KEYS)}")
    return NeptuneTracker(
        run_name,
        mode=spec.get("mode", "offline"),
        project=spec.get("project"),
        data_dir=spec.get("data_dir", ".neptune"),
        tags=tags,
    )


def _import_neptune():
    try:
        import neptune
        import neptune.utils
    except ImportError as error:
        raise ImportError(
            "the neptune tracker needs the neptune package: pip install 'exprbench[neptune]'"
        ) from error
    return neptune


def _import_mlflow():
    try:
        import mlflow.tracking
    except ImportError as error:
        raise ImportError("the mlflow tracker needs the mlflow package: pip install 'exprbench[mlflow]'") from error
    return mlflow.tracking


def _mlflow_uri(location: str | os.PathLike) -> str:
    """A URI as given, or a folder as the file URI of its absolute path (jobs may change directory)."""
    location = str(location)
    if "://" in location or location.startswith(("file:", "sqlite:", "databricks")):
        return location
    return Path(location).resolve().as_uri()


def _plain(value: Any) -> Any:
    """Turn numpy/torch scalars into Python numbers, recursing into dicts."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


@contextlib.contextmanager
def _environment_default(name: str, value: str) -> Iterator[None]:
    """Set an environment variable for a block unless the user already set it."""
    if name in os.environ:
        yield
    else:
        with _environment_variable(name, value):
            yield


@contextlib.contextmanager
def _environment_variable(name: str, value: str) -> Iterator[None]:
    """Set an environment variable for the duration of a block, then restore it."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
