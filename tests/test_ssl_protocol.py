"""The self-supervised protocol: splits, nested stratified subsets, AUPC and gain,
the collapse spectrum, and no test sample dropped."""

import numpy as np
import pandas as pd
import pytest
import torch

from exprbench.seeding import make_rng
from exprbench.ssl.data import DownstreamData, split_pretraining
from exprbench.ssl.job import run_protocol
from exprbench.ssl.metrics import aupc, aupc_gain, collapsed_dimensions, singular_value_spectrum, spectrum_table
from exprbench.ssl.splits import downstream_split, fit_and_stop_subsets, stratified_take

torch.set_num_threads(1)
LABELS = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20)


# ------------------------------------------------------------------ splits

def test_stratified_take_keeps_class_proportions_and_total():
    taken = stratified_take(LABELS, 0.5, make_rng(0, "t"))
    assert len(taken) == 50
    counts = pd.Series(LABELS[taken]).value_counts().to_dict()
    assert counts == {"a": 25, "b": 15, "c": 10}
    # Small fractions still reach the requested total (largest remainder).
    assert len(stratified_take(LABELS, 0.01, make_rng(0, "t"))) == 1


def test_downstream_split_is_a_stratified_partition():
    parts = downstream_split(LABELS, 0.5, make_rng(1, "d"))
    together = np.concatenate([parts.train_pool, parts.test])
    assert sorted(together) == list(range(100))  # disjoint, nothing lost
    assert len(parts.test) == 50
    assert pd.Series(LABELS[parts.test]).value_counts()["c"] == 10


def _subsets(labels, proportions, rng, stop_fraction=0.0, stop_min_per_class=0):
    """p-subsets (fitted + early-stopping samples together)."""
    pairs = fit_and_stop_subsets(labels, proportions, rng, stop_fraction, stop_min_per_class)
    return [np.union1d(fitted, stopping) for fitted, stopping in pairs]


def test_p_subsets_are_nested_stratified_and_new_per_repeat():
    proportions = [0.02, 0.1, 0.5, 1.0]
    subsets = _subsets(LABELS, proportions, make_rng(0, "repeat", 0))
    for small, large in zip(subsets, subsets[1:], strict=False):
        assert set(small) <= set(large)
    # At least one sample per class, round(n_c * p) otherwise.
    assert pd.Series(LABELS[subsets[0]]).value_counts().to_dict() == {"a": 1, "b": 1, "c": 1}
    assert pd.Series(LABELS[subsets[2]]).value_counts().to_dict() == {"a": 25, "b": 15, "c": 10}
    assert len(subsets[-1]) == 100
    again = _subsets(LABELS, proportions, make_rng(0, "repeat", 0))
    other = _subsets(LABELS, proportions, make_rng(0, "repeat", 1))
    assert all(np.array_equal(x, y) for x, y in zip(subsets, again, strict=False))
    assert not np.array_equal(subsets[1], other[1])
    # With early stopping the subsets stay nested.
    with_stop = _subsets(LABELS, proportions, make_rng(0, "repeat", 0), 0.15, 1)
    for small, large in zip(with_stop, with_stop[1:], strict=False):
        assert set(small) <= set(large)


def test_early_stopping_set_scales_with_p_and_stays_out_of_the_test_set():
    labels = np.repeat(["a", "b", "c", "d"], [120, 80, 40, 10])
    parts = downstream_split(labels, 0.5, make_rng(0, "d"))
    pool = labels[parts.train_pool]
    proportions = [0.02, 0.1, 0.3, 1.0]
    pairs = fit_and_stop_subsets(pool, proportions, make_rng(0, "repeat", 0), 0.15, 1)
    stop_sizes = []
    for p, (fitted, stopping) in zip(proportions, pairs, strict=False):
        assert not set(fitted) & set(stopping)  # the early-stopping samples are never fitted
        rows_fitted, rows_stopping = parts.train_pool[fitted], parts.train_pool[stopping]
        assert not (set(rows_fitted) | set(rows_stopping)) & set(parts.test)
        # Every class is fitted and monitored (at least 1 + 1 samples per class in the subset).
        assert set(pool[fitted]) == set(pool[stopping]) == set(labels)
        for name in "abcd":
            n_class = int((pool == name).sum())
            in_subset = min(n_class, max(2, round(n_class * p)))
            assert (pool[stopping] == name).sum() == max(1, round(in_subset * 0.15))
        stop_sizes.append(len(stopping))
    # In proportion to the subset: 4 samples at p = 0.02, 19 (15% per class) of all 125 at p = 1.
    assert stop_sizes == sorted(stop_sizes) and stop_sizes[0] == 4 and stop_sizes[-1] == 19
    assert len(pairs[-1][0]) + len(pairs[-1][1]) == len(pool)
    # No early-stopping samples asked for: none taken, the whole subset is fitted.
    fitted, stopping = fit_and_stop_subsets(pool, [0.3], make_rng(0, "repeat", 0), 0.0, 0)[0]
    assert stopping.size == 0 and fitted.size == sum(max(1, round((pool == c).sum() * 0.3)) for c in "abcd")


def test_unlabeled_samples_always_go_to_pretraining():
    labels = pd.Series(["x"] * 10 + ["y"] * 10 + [pd.NA] * 5)
    pretraining, downstream = split_pretraining(labels, 0.5, make_rng(0, "p"))
    assert set(range(20, 25)) <= set(pretraining)
    assert len(pretraining) == 15 and len(downstream) == 10
    assert not set(pretraining) & set(downstream)


# ------------------------------------------------------------------ AUPC and gain

def test_aupc_and_gain_on_a_hand_example():
    p = [0.02, 0.1, 0.2, 0.3, 0.5, 1.0]
    method = [0.5, 0.7, 0.8, 0.9, 0.95, 0.97]
    baseline = [0.3, 0.5, 0.7, 0.8, 0.95, 0.97]
    # Trapezoids on [0.02, 0.3]: 0.08*0.6 + 0.1*0.75 + 0.1*0.85 = 0.208
    assert aupc(p, method) == pytest.approx(0.208)
    # 0.08*0.4 + 0.1*0.6 + 0.1*0.75 = 0.167
    assert aupc(p, baseline) == pytest.approx(0.167)
    assert aupc_gain(p, method, baseline) == pytest.approx(0.041)
    assert aupc_gain(p, method, baseline, normalize=True) == pytest.approx(0.041 / 0.28)
    assert aupc_gain(p, baseline, method) < 0
    # A constant curve has normalised AUPC equal to the constant; unsorted input is fine.
    assert aupc([0.3, 0.02, 0.1], [0.6, 0.6, 0.6], normalize=True) == pytest.approx(0.6)
    assert np.isnan(aupc([0.5, 1.0], [0.5, 0.6]))  # no two points inside the interval


# ------------------------------------------------------------------ spectrum

def test_spectrum_is_sorted_and_counts_collapsed_dimensions():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 3)) @ np.diag([3.0, 2.0, 1.0])
    embeddings = np.hstack([z, z[:, :1] * 2, np.zeros((500, 2))])  # rank 3 in 6 dimensions
    spectrum = singular_value_spectrum(embeddings)
    assert spectrum.shape == (6,)
    assert np.all(np.diff(spectrum) <= 0)
    assert collapsed_dimensions(spectrum) == 3
    # Singular values of the covariance = its eigenvalues (symmetric PSD).
    covariance = np.cov(embeddings, rowvar=False, bias=True)
    np.testing.assert_allclose(spectrum, np.sort(np.linalg.eigvalsh(covariance))[::-1], atol=1e-9)
    table = spectrum_table(spectrum)
    assert list(table["rank"]) == [1, 2, 3, 4, 5, 6] and table["collapsed"].sum() == 3


def test_spectrum_stops_at_the_rank_the_samples_can_span():
    embeddings = np.random.default_rng(1).normal(size=(5, 16))  # 5 centred samples span 4 dimensions
    spectrum = singular_value_spectrum(embeddings)
    assert spectrum.shape == (4,) and collapsed_dimensions(spectrum) == 0


# ------------------------------------------------------------------ no test sample dropped

def _toy_downstream(n_test: int) -> DownstreamData:
    rng = np.random.default_rng(0)
    classes = np.array(["k0", "k1", "k2"])

    def part(n):
        y = np.arange(n) % 3
        return (rng.normal(size=(n, 12)) + y[:, None]).astype(np.float32), y

    X_pool, y_pool = part(40)
    X_test, y_test = part(n_test)
    return DownstreamData(X_pool, y_pool, X_test, y_test,
                          np.array([f"t{i}" for i in range(n_test)]), classes)


@pytest.mark.parametrize("mode", ["frozen", "unfrozen"])
def test_every_test_sample_gets_a_prediction_row(mode):
    from exprbench.ssl.finetune import FineTuner

    n_test = 19  # not a multiple of the batch size: the reference would drop 3
    data = _toy_downstream(n_test)

    def make_tuner(seed):
        return FineTuner(mode=mode, depth=1, width=8, batch_size=8, max_epochs=3, patience=2, random_state=seed,
                         device="cpu")

    proportions, repeats = [0.1, 0.5, 1.0], 2
    scores, predictions = run_protocol(data, make_tuner, proportions, repeats, seed=0, subset_key="toy",
                                       stop_fraction=0.15, stop_min_per_class=1)
    assert len(scores) == len(proportions) * repeats
    assert (scores["n_test"] == n_test).all()
    assert len(predictions) == n_test * len(proportions) * repeats
    for _, fit in predictions.groupby(["proportion", "repeat"]):
        assert sorted(fit["sample_id"]) == sorted(data.test_ids)
    assert set(predictions["predicted"]) <= set(data.classes)
    # Accuracy is computed over all test samples.
    first = predictions[(predictions["proportion"] == 0.1) & (predictions["repeat"] == 0)]
    assert scores.loc[0, "accuracy"] == pytest.approx((first["true"] == first["predicted"]).mean())
    # Same seed, same numbers.
    again, _ = run_protocol(data, make_tuner, proportions, repeats, seed=0, subset_key="toy",
                            stop_fraction=0.15, stop_min_per_class=1)
    pd.testing.assert_frame_equal(scores.drop(columns="fit_seconds"), again.drop(columns="fit_seconds"))


# ------------------------------------------------------------------ the default run's schedule converges

def test_default_fine_tuning_schedule_ends_every_fit_by_early_stopping(tmp_path):
    """The fine-tuning schedule of config/config.yaml's ssl: section, on a smaller compendium of the
    same kind: early stopping ends every fit (baseline, pretrained frozen and unfrozen) before
    max_epochs, so no arm's numbers come from an unconverged fit."""
    from pathlib import Path

    import yaml

    from exprbench import config as config_module
    from exprbench.sources import SOURCES
    from exprbench.ssl.job import finetune, pretrain
    from exprbench.store import write_dataset

    raw = yaml.safe_load((Path(__file__).parents[1] / "config" / "config.yaml").read_text())
    name, exp = next(iter(config_module.resolve({"datasets": raw["datasets"], "ssl": raw["ssl"]},
                                                "config.yaml")["ssl"]["experiments"].items()))
    dataset = raw["datasets"][exp["finetune_dataset"]]
    assert exp["pretrain_dataset"] == exp["finetune_dataset"] and dataset["source"] == "synthetic_compendium"
    store = tmp_path / "compendium.h5"
    params = {**dataset.get("params", {}), "n_samples": 1000}  # fewer unlabeled samples, same kind of task
    write_dataset(store, SOURCES.get(dataset["source"])(**params).build())
    for method in exp["method_params"]:
        exp["method_params"][method]["max_epochs"] = 2  # a short pretraining: the schedule under test is fine-tuning's
    exp["finetune"]["repeats"] = 1
    arch = exp["architectures"][0]["name"]
    encoder, _, _ = pretrain(exp, "scarf", arch, exp["main_pretrain"], 0, "cpu", store, store)
    torch.save(encoder.encoder_.state_dict(), tmp_path / "encoder.pt")
    runs = [("baseline", "unfrozen", None), ("scarf", "frozen", tmp_path / "encoder.pt"),
            ("scarf", "unfrozen", tmp_path / "encoder.pt")]
    for method, mode, encoder_path in runs:
        scores, _ = finetune(exp, method, mode, arch, "none" if encoder_path is None else exp["main_pretrain"], 0,
                             "cpu", store, store, encoder_path)
        assert len(scores) == len(exp["finetune"]["proportions"]) * exp["finetune"]["repeats"]
        assert not scores["hit_epoch_cap"].any(), (method, mode, scores[["proportion", "repeat", "epochs"]])
        assert (scores["epochs"] < exp["finetune"]["max_epochs"]).all()
