"""What the compressed_sensing jobs of a config fit, for ``exprbench plan``."""

from __future__ import annotations

from ..plan import family_row, grouped


def rows(section: dict) -> list[dict]:
    from . import settings

    rows = []
    for (exp, method), jobs in grouped(settings.jobs(section), "experiment", "method").items():
        measurements = len(section["experiments"][exp]["measurements"])
        rows.append(family_row("compressed_sensing", exp, method, len(jobs),
                                {"fits": measurements, "other_fits": 1}, section["resources"]["mem_mb"]))
    return rows
