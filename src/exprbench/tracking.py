"""Optional experiment trackers for training jobs.

Every job writes its own result files; a tracker only mirrors params and
metrics somewhere else. The default writes nothing. The Neptune backend is an
extra (``pip install 'exprbench[neptune]'``) and is imported only when a config
asks for it.

Neptune's ``sync`` command only accepts a folder named ``.neptune`` (or one
that contains it), so a custom ``data_dir`` should end in ``.neptune`` if its
offline runs are to be uploaded later.
"""

from __future__ import annotations

import abc
import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

TRACKER_BACKENDS = ("none", "neptune")
NEPTUNE_MODES = ("offline", "async", "debug")
NEPTUNE_TOKEN_VARIABLE = "NEPTUNE_API_TOKEN"
NEPTUNE_PROJECT_VARIABLE = "NEPTUNE_PROJECT"
NEPTUNE_SPEC_KEYS = ("backend", "mode", "project", "data_dir")


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


def make_tracker(spec: dict[str, Any] | None, run_name: str, tags: list[str] | None = None) -> Tracker:
    """Build the tracker that a config's ``tracker`` block describes (default: none)."""
    spec = dict(spec or {})
    backend = spec.get("backend", "none")
    if backend not in TRACKER_BACKENDS:
        raise ValueError(f"unknown tracker backend {backend!r}; allowed: {', '.join(TRACKER_BACKENDS)}")
    if backend == "none":
        return NullTracker()
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


def _plain(value: Any) -> Any:
    """Turn numpy/torch scalars into Python numbers, recursing into dicts."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


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
