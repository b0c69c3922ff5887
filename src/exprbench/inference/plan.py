"""What the inference jobs of a config fit, for ``exprbench plan``."""

from __future__ import annotations

from ..plan import family_row, grouped


def rows(section: dict) -> list[dict]:
    from . import settings
    from .job import grid_points
    from .workflow import resource

    rows = []
    for (task, model), jobs in grouped(settings.jobs(section), "task", "model").items():
        points = len(grid_points(section["models"][model]["grid"]))
        rows.append(family_row("inference", task, model, len(jobs), {"fits": 1, "search_fits": points - 1},
                                resource(section, model, "mem_mb", 1)))
    return rows
