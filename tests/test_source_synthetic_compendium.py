"""The synthetic compendium source: seeded, shaped, with class and study structure."""

import numpy as np
import pytest

from exprbench.sources import SOURCES
from exprbench.store import open_dataset, write_dataset

SMALL = {"n_samples": 400, "n_genes": 120, "n_tissues": 4, "n_programs": 8, "program_size": 20, "n_studies": 12}


def build(**params):
    return SOURCES.get("synthetic_compendium")(**{**SMALL, **params}).build()


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = build(seed=3), build(seed=3), build(seed=4)
    np.testing.assert_array_equal(a.expression, b.expression)
    assert a.samples.equals(b.samples)
    assert not np.array_equal(a.expression, c.expression)


def test_shapes_columns_and_log_tpm_scale():
    data = build(labeled_fraction=0.25)
    assert data.expression.shape == (400, 120)
    assert data.expression.dtype == np.float32
    assert {"sample_id", "study", "donor", "tissue", "true_tissue"} <= set(data.samples.columns)
    # log2(TPM + 1): non-negative, and the linear values sum to about 1e6 per sample.
    assert data.expression.min() >= 0
    tpm = 2.0 ** data.expression.astype(np.float64) - 1
    np.testing.assert_allclose(tpm.sum(axis=1), 1e6, rtol=1e-3)


def test_few_samples_labeled_the_rest_unlabeled():
    samples = build(labeled_fraction=0.25).samples
    labeled = samples["tissue"].notna()
    assert labeled.sum() == 100
    # Labeled samples show their simulated tissue; every tissue exists.
    assert (samples.loc[labeled, "tissue"] == samples.loc[labeled, "true_tissue"]).all()
    assert samples["true_tissue"].nunique() == 4


def _between_share(values, groups) -> float:
    """Mean over genes of the between-group share of the variance (eta squared)."""
    total = values.var(axis=0)
    means = np.stack([values[groups == g].mean(axis=0) for g in np.unique(groups)])
    sizes = np.array([(groups == g).sum() for g in np.unique(groups)])
    between = (sizes[:, None] * (means - values.mean(axis=0)) ** 2).sum(axis=0) / len(values)
    return float(np.mean(between / total))


def test_tissues_are_separable_and_studies_shift_expression():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.preprocessing import StandardScaler

    data = build()
    X = StandardScaler().fit_transform(data.expression)
    tissue = data.samples["true_tissue"].to_numpy()
    accuracy = cross_val_score(LogisticRegression(max_iter=500), X, tissue, cv=3).mean()
    assert accuracy > 0.8  # the class structure is learnable ...
    # ... and studies explain variance beyond the tissue (batch effects present).
    no_batch = build(batch_sd=0.0)
    study = data.samples["study"].to_numpy()
    assert _between_share(data.expression, study) > _between_share(no_batch.expression, study) + 0.02


def test_written_to_the_store_like_any_source(tmp_path):
    path = tmp_path / "syn.h5"
    write_dataset(path, build())
    with open_dataset(path) as reader:
        assert reader.shape == (400, 120)
        assert reader.provenance["source"] == "synthetic_compendium"
        assert reader.samples["tissue"].isna().sum() == 400 - reader.provenance["n_labeled"]


def test_bad_params_raise_a_readable_error():
    with pytest.raises(ValueError, match="labeled_fraction"):
        build(labeled_fraction=0)
    with pytest.raises(ValueError, match="n_tissues"):
        build(n_tissues=1)
