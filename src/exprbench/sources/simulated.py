"""The paper's three simulated datasets (Heil et al., Methods, "Data simulation").

Two balanced classes. A *linear* feature is N(0, 1) in one class and
N(mean_difference, 1) in the other. A *non-linear* feature is N(0, 1) in one class
and, in the other, N(+mean_difference, 1) or N(-mean_difference, 1) with equal
probability, so both classes share a mean. *Noise* features are N(0, 1) in both.
Each sample is its own study and donor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..store import ExpressionData
from . import DataSource


class SimulatedClasses(DataSource):
    name = "simulated"
    label_columns = ("label",)
    defaults = {
        "n_samples": 1000,
        "n_linear": 2500,
        "n_nonlinear": 2500,
        "n_noise": 0,
        "mean_difference": 6.0,
        "seed": 42,
    }

    def build(self) -> ExpressionData:
        p = self.params
        n = int(p["n_samples"])
        n_linear, n_nonlinear, n_noise = (int(p[k]) for k in ("n_linear", "n_nonlinear", "n_noise"))
        if n < 4 or n_linear + n_nonlinear + n_noise < 1:
            raise ValueError("simulated: need n_samples >= 4 and at least one feature")
        rng = np.random.default_rng(int(p["seed"]))
        shift = float(p["mean_difference"])

        is_red = np.zeros(n, dtype=bool)
        is_red[rng.permutation(n)[: n // 2]] = True
        expression = rng.standard_normal((n, n_linear + n_nonlinear + n_noise), dtype=np.float32)
        expression[is_red, :n_linear] += shift
        signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(int(is_red.sum()), n_nonlinear))
        expression[np.ix_(is_red, np.arange(n_linear, n_linear + n_nonlinear))] += shift * signs

        ids = [f"sim{i:05d}" for i in range(n)]
        samples = pd.DataFrame(
            {"sample_id": ids, "study": ids, "donor": ids, "label": np.where(is_red, "red", "blue")}
        )
        kinds = ["linear"] * n_linear + ["nonlinear"] * n_nonlinear + ["noise"] * n_noise
        gene_ids = [f"{kind}_{i:05d}" for i, kind in enumerate(kinds)]
        genes = pd.DataFrame({"gene_id": gene_ids, "symbol": gene_ids})
        provenance = {
            "source": self.name,
            "source_version": "heil2023-methods",
            "preprocessing": [],
            "params": dict(p),
        }
        return ExpressionData(expression, samples, genes, provenance)
