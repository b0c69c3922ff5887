"""Figure helpers every family shares: deterministic PNG + SVG files, written atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from .atomic import atomic_path

_SAVE_FORMATS = ("png", "svg")
# Fixed salt and no date so rerunning gives byte-identical SVG files.
_DETERMINISTIC_RC = {"svg.hashsalt": "exprbench", "svg.fonttype": "path"}
_METADATA = {"png": {"Software": None}, "svg": {"Date": None}}

def message_figure(message: str) -> Figure:
    figure = Figure(figsize=(6, 2.5))
    figure.text(0.5, 0.5, message, ha="center", va="center", fontsize=13, color="0.3")
    return figure

def save_figure(figure: Figure, out_stem: str | Path) -> list[Path]:
    """PNG and SVG next to each other, atomically, byte-identical across reruns."""
    out_stem = Path(out_stem)
    written = []
    with matplotlib.rc_context(_DETERMINISTIC_RC):
        for file_format in _SAVE_FORMATS:
            final = out_stem.with_name(f"{out_stem.name}.{file_format}")
            with atomic_path(final) as tmp:
                figure.savefig(tmp, format=file_format, dpi=150, metadata=_METADATA[file_format])
            written.append(final)
    return written
