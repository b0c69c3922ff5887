import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exprbench import download
from exprbench.store import ExpressionData

LOCAL_SLURM_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "local_slurm.sh"
SLURM_CLUSTER_UNAVAILABLE = 3  # local_slurm.sh: not root, or slurm-wlm/munge cannot be installed


def make_data(n_samples=40, n_genes=12, n_studies=8, seed=0, labels=("a", "b")) -> ExpressionData:
    rng = np.random.default_rng(seed)
    ids = [f"s{i:03d}" for i in range(n_samples)]
    samples = pd.DataFrame({
        "sample_id": ids,
        "study": [f"study{i % n_studies}" for i in range(n_samples)],
        "donor": ids,
        "label": [labels[i % len(labels)] for i in range(n_samples)],
    })
    genes = pd.DataFrame({"gene_id": [f"g{j}" for j in range(n_genes)], "symbol": [f"G{j}" for j in range(n_genes)]})
    expression = rng.standard_normal((n_samples, n_genes)).astype(np.float32)
    return ExpressionData(expression, samples, genes,
                          {"source": "test", "source_version": "1", "preprocessing": ["none"]})


@pytest.fixture(scope="session")
def all_data():
    """The embedded ALL data set (R and r-bioc-all), built once per test session."""
    from exprbench.sources import SOURCES

    return SOURCES.get("bioc_all")().build()


@pytest.fixture(scope="session")
def bladder_data():
    """The embedded bladderbatch data set, built once per test session."""
    from exprbench.sources import SOURCES

    return SOURCES.get("bioc_bladderbatch")().build()


@pytest.fixture
def small_data():
    return make_data()


def separable_problem(n=120, n_features=40, n_classes=2, seed=0):
    """Classes whose means differ along the first features: any classifier should learn it."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.standard_normal((n, n_features)).astype(np.float32)
    X[np.arange(n), y] += 4.0
    return X, y


# The downloader's fixtures (test_download*.py). Those modules apply `isolated` to every
# test with pytestmark; here it is not autouse, so other tests keep the real cache.
@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """Private cache, no CA bundle from the environment, and waits recorded instead of slept."""
    monkeypatch.setenv("EXPRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    waits = []
    monkeypatch.setattr(download, "_sleep", waits.append)
    return waits


@pytest.fixture
def waits(isolated):
    return isolated


@pytest.fixture
def server():
    from http_server import FileServer

    with FileServer() as running:
        yield running


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A self-signed CA and server certificate for the local HTTPS test server."""
    from http_server import make_tls_files

    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not available to make a test certificate")
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_server(tls):
    from http_server import FileServer

    _, cert, key = tls
    with FileServer(tls=(cert, key)) as running:
        yield running


@pytest.fixture
def https(tls, monkeypatch):
    """An HTTPS test server whose CA the downloader trusts through REQUESTS_CA_BUNDLE."""
    from http_server import FileServer

    ca, cert, key = tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    with FileServer(tls=(cert, key)) as server:
        yield server


@pytest.fixture(scope="session")
def slurm_cluster():
    """The local cluster, started by scripts/local_slurm.sh, and stopped at the end of the
    session only if it was not already up. Kept up meanwhile: with Slurm installed but
    its daemons stopped, every Snakemake start waits on the executor plugin's probes."""
    if os.geteuid() != 0:
        pytest.skip("the local Slurm cluster needs root (scripts/local_slurm.sh installs and starts daemons)")
    was_up = subprocess.run(["bash", str(LOCAL_SLURM_SCRIPT), "status"], capture_output=True).returncode == 0
    started = subprocess.run(["bash", str(LOCAL_SLURM_SCRIPT), "start"], capture_output=True, text=True, timeout=900)
    if started.returncode == SLURM_CLUSTER_UNAVAILABLE:
        pytest.skip(f"no local Slurm cluster here: {started.stderr.strip()}")
    assert started.returncode == 0, f"scripts/local_slurm.sh start failed:\n{started.stdout}\n{started.stderr}"
    yield
    if not was_up:
        stopped = subprocess.run(["bash", str(LOCAL_SLURM_SCRIPT), "stop"], capture_output=True, text=True, timeout=120)
        assert stopped.returncode == 0, f"scripts/local_slurm.sh stop failed:\n{stopped.stdout}\n{stopped.stderr}"
