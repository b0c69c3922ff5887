"""What the ssl jobs of a config fit, for ``exprbench plan``."""

from __future__ import annotations

from ..plan import family_row, grouped


def rows(section: dict) -> list[dict]:
    from . import settings

    rows = []
    for (exp, method), jobs in grouped(settings.pretrain_jobs(section), "experiment", "method").items():
        rows.append(family_row("ssl", exp, f"{method} pretrain", len(jobs), {"other_fits": 1},
                                section["resources"]["pretrain"]["mem_mb"]))
    for (exp, method), jobs in grouped(settings.finetune_jobs(section), "experiment", "method").items():
        finetune = section["experiments"][exp]["finetune"]
        rows.append(family_row("ssl", exp, f"{method} finetune", len(jobs),
                                {"fits": finetune["repeats"] * len(finetune["proportions"])},
                                section["resources"]["finetune"]["mem_mb"]))
    return rows
