"""The biclustering family's library: methods, convex solver, stability tuning, metrics, settings."""

import numpy as np
import pandas as pd
import pytest
import torch

from exprbench.biclustering import settings
from exprbench.biclustering.job import run_job
from exprbench.biclustering.methods import METHODS
from exprbench.biclustering.methods._convex import ConvexBiclusterSolver
from exprbench.biclustering.metrics import biclusters, planted_metrics
from exprbench.biclustering.planted import planted_checkerboard
from exprbench.biclustering.summary import write_summary
from exprbench.config import ConfigError


@pytest.fixture(scope="module")
def clean():
    return planted_checkerboard(24, 12, 3, 3, 0, noise=0.0, seed=0)


@pytest.fixture(scope="module")
def with_noise_features():
    return planted_checkerboard(24, 12, 3, 3, 6, noise=0.3, seed=0)


@pytest.mark.parametrize("method", METHODS.names())
def test_each_method_recovers_a_clean_checkerboard_exactly(method, clean):
    model = METHODS.get(method)(n_row_clusters=3, n_column_clusters=3).fit(clean.X)
    scores = planted_metrics(clean.row_labels, clean.column_labels, model.row_labels_, model.column_labels_)
    assert scores["consensus"] == pytest.approx(1.0)
    assert scores["row_ari"] == pytest.approx(1.0) and scores["column_ari"] == pytest.approx(1.0)


def test_spacobi_zeroes_noise_features_where_convex_biclustering_does_not(with_noise_features):
    data = with_noise_features
    sparse = METHODS.get("spacobi")(sparsity=0.2).fit(data.X)
    dense = METHODS.get("convex_biclustering")().fit(data.X)
    assert np.array_equal(sparse.column_labels_ < 0, data.noise_features)  # exactly the noise features
    assert (dense.column_labels_ >= 0).all()
    assert np.abs(sparse.U_[:, data.noise_features]).max() < 1e-3 * np.abs(data.X).max()
    assert np.abs(dense.U_[:, data.noise_features]).max() > 1e-2
    assert planted_metrics(data.row_labels, data.column_labels, sparse.row_labels_, sparse.column_labels_)[
        "noise_f1"] == 1.0


@pytest.mark.parametrize("solver", ["ama", "admm"])
@pytest.mark.parametrize("lam", [0.0, 2.0])
def test_convex_solver_descends_and_meets_its_optimality_conditions(solver, lam, with_noise_features):
    X = with_noise_features.X - with_noise_features.X.mean(axis=0)
    problem = ConvexBiclusterSolver(X, solver=solver)
    fit = problem.solve(200.0, lam, tol=1e-8, max_iter=3000, check_every=1, keep_history=True)
    history = np.array(fit.history)
    dual, primal, gap = history[:, 1], history[:, 2], history[:, 3]
    # Block coordinate descent on Φ = ½‖X − P − Q‖²: never increases.
    assert np.all(np.diff(dual) <= 1e-10 * dual[0])
    assert primal[-1] <= primal[0] and np.all(gap >= -1e-9 * primal)
    assert fit.gap <= 1e-8 * fit.objective
    # Optimality: U = X − P − Q with P ∈ ∂f(U), Q ∈ ∂g(U): duals inside their balls and
    # both complementary slacks f(U) − ⟨P, U⟩ and g(U) − ⟨Q, U⟩ (near) zero.
    columns, rows = problem.blocks(200.0, lam)
    U = torch.as_tensor(fit.U, dtype=torch.float64)
    for block, dual_var, points in ((columns, fit.state["Lc"], U.T), (rows, fit.state["Lr"], U)):
        assert torch.all(dual_var.norm(dim=1) <= block.radius * (1 + 1e-9) + 1e-12)
        slack = float(block.penalty(points) - (block.Dt(dual_var) * points).sum())
        assert -1e-8 <= slack <= 1e-6 * fit.objective
    residual = problem.X - columns.Dt(fit.state["Lc"]).T - rows.Dt(fit.state["Lr"]) - U
    assert float(residual.abs().max()) < 1e-12


def test_ama_and_admm_agree(with_noise_features):
    X = with_noise_features.X - with_noise_features.X.mean(axis=0)
    a = ConvexBiclusterSolver(X, solver="ama").solve(200.0, 1.0, tol=1e-6, max_iter=500)
    b = ConvexBiclusterSolver(X, solver="admm").solve(200.0, 1.0, tol=1e-6, max_iter=500)
    assert np.abs(a.U - b.U).max() < 2e-2 * np.abs(X).max()


def test_stability_tuning_is_seeded_and_reproducible(with_noise_features):
    X = with_noise_features.X
    options = {"sparsities": (0.1, 0.3), "n_subsamples": 2}
    first = METHODS.get("spacobi")(random_state=7, **options).fit(X)
    again = METHODS.get("spacobi")(random_state=7, **options).fit(X)
    assert first.stability_path_ == again.stability_path_ and first.sparsity_ == again.sparsity_
    assert np.array_equal(first.column_labels_, again.column_labels_)
    assert first.sparsity_ in options["sparsities"]
    other = METHODS.get("spacobi")(random_state=8, **options)
    pairs = zip(first.subsamples(len(X)), other.subsamples(len(X)), strict=False)
    assert not all(np.array_equal(a, b) for a, b in pairs)


def test_planted_data_are_seeded_and_keep_their_truth():
    a = planted_checkerboard(30, 10, 2, 2, 5, noise=1.0, seed=3)
    assert np.array_equal(a.X, planted_checkerboard(30, 10, 2, 2, 5, noise=1.0, seed=3).X)
    assert not np.array_equal(a.X, planted_checkerboard(30, 10, 2, 2, 5, noise=1.0, seed=4).X)
    assert a.X.shape == (30, 15) and a.noise_features.sum() == 5
    assert np.bincount(a.row_labels).tolist() == [15, 15]


def test_biclusters_are_the_checkerboard_of_the_partitions():
    rows, columns = biclusters([0, 0, 1], [0, 1, -1, 1])
    assert rows.shape == (4, 3) and columns.shape == (4, 4)
    assert not columns[:, 2].any()  # a set-aside column is in no bicluster
    assert planted_metrics([0, 0, 1], [0, 1, -1], [0, 0, 1], [0, 1, 1])["noise_f1"] == 0.0


def _section(**experiment):
    return {"experiments": {"e": {"planted": {"sizes": [[12, 6]], "noise": [0.2]}, **experiment}}}


def test_settings_resolve_defaults_and_refuse_bad_values():
    config = {"datasets": {"all": {"source": "bioc_all", "params": {}}}}
    resolved = settings.resolve(_section(methods=["kmeans_rows_cols"], seeds=[0, 1]), config, "c.yaml")
    assert settings.jobs(resolved) == [{"experiment": "e", "method": "kmeans_rows_cols", "seed": s} for s in (0, 1)]
    assert resolved["experiments"]["e"]["planted"]["noise_features"] == [0]
    with pytest.raises(ConfigError, match="unknown method"):
        settings.resolve(_section(methods=["cobra"]), config, "c.yaml")
    with pytest.raises(ConfigError, match="exactly one"):
        settings.resolve(_section(dataset="all"), config, "c.yaml")
    with pytest.raises(ConfigError, match="job-owned"):
        settings.resolve(_section(methods=["spacobi"], method_params={"spacobi": {"n_row_clusters": 2}}), config, "c")
    store = settings.resolve({"experiments": {"a": {"dataset": "all", "labels": ["lineage"]}}}, config, "c")
    assert settings.labels_used(store) == {"all": ["lineage"]}


def test_job_rows_and_a_summary_that_keeps_failed_rows(tmp_path):
    config = {"datasets": {}}
    experiment = settings.resolve(_section(methods=["kmeans_rows_cols"], stability_subsamples=2), config,
                                  "c")["experiments"]["e"]
    table, record, heatmap = run_job(None, experiment, "kmeans_rows_cols", 0)
    assert len(table) == 1 and table["status"].eq("ok").all() and table["row_stability"].notna().all()
    assert heatmap["X"].shape == (12, 6) and record["fits"][0]["n_features_kept"] == 6
    ok, failed = tmp_path / "ok.tsv", tmp_path / "failed.tsv"
    table.to_csv(ok, sep="\t", index=False)
    pd.DataFrame([{"experiment": "e", "method": "spacobi", "seed": 0, "status": "failed", "error": "boom"}]).to_csv(
        failed, sep="\t", index=False)
    summary = write_summary([ok, failed], tmp_path / "summary.tsv")
    assert summary["status"].tolist() == ["ok", "failed"] or sorted(summary["status"]) == ["failed", "ok"]


def test_stability_tuning_picks_the_sparsity_that_zeroes_exactly_the_noise_features():
    # 40 x (20 + 10): 0.05 zeroes nothing (stable partition, but a selection of all says
    # nothing: kappa 0), 0.6 zeroes a weak signal cluster too (stable as well), 0.3 zeroes
    # exactly the noise features.
    data = planted_checkerboard(40, 20, 3, 3, 10, noise=0.5, seed=0)
    model = METHODS.get("spacobi")(sparsities=(0.05, 0.3, 0.6), random_state=0).fit(data.X)
    assert model.sparsity_ == 0.3
    assert model.stability_path_[0.05] == pytest.approx(0.5)  # (kappa 0 + ARI 1) / 2
    assert np.array_equal(model.column_labels_ < 0, data.noise_features)


def test_selection_kappa():
    from exprbench.biclustering.methods.spacobi import selection_kappa

    a = np.array([True, True, False, False])
    assert selection_kappa(a, a) == 1.0 and selection_kappa(a, ~a) == -1.0
    assert selection_kappa(np.ones(4, bool), np.ones(4, bool)) == 0.0  # all kept: no information
