"""A progress bar with an ETA for long training loops, drawn only for a person.

The bar appears only when stderr is a terminal (never in a job's log file, never
when ``CI`` is set or ``TERM=dumb``), and only once the estimate says the whole
loop takes longer than ``min_seconds``, so short fits stay quiet. Jobs keep
logging their own lines as before; the bar is drawn on one line with ``\\r`` and
ends with a newline when the loop is done.

    bar = progress_bar(epochs, "scarf pretraining")
    for epoch in range(epochs):
        ...
        bar.update(epoch + 1, loss=loss)   # closes itself at the last epoch
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

MIN_SECONDS = 30.0  # loops expected to take less than this draw nothing
REDRAW_SECONDS = 0.5
BAR_WIDTH = 24


def attended(stream: TextIO) -> bool:
    """Whether a person is watching ``stream``: a terminal, outside CI."""
    if os.environ.get("CI") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """One line: label, bar, done/total, elapsed time, ETA and the latest values."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, min_seconds: float = MIN_SECONDS,
                 unit: str = "epochs", timer=time.perf_counter):
        self.total, self.label, self.unit = max(int(total), 1), label, unit
        self.stream = sys.stderr if stream is None else stream
        self.min_seconds, self.timer = min_seconds, timer
        self.started = timer()
        self.last_drawn = None
        self.drawn = False
        self.closed = False

    def line(self, done: int, elapsed: float, **values: float) -> str:
        filled = int(BAR_WIDTH * done / self.total)
        eta = elapsed / done * (self.total - done) if done else float("nan")
        shown = "".join(f" {name} {value:.4g}" for name, value in values.items())
        eta_text = clock(eta) if done else "?"
        return (f"{self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{self.total} {self.unit} "
                f"{clock(elapsed)} elapsed, ETA {eta_text}{shown}")

    def update(self, done: int, **values: float) -> None:
        """``done`` of ``total`` steps finished; closes the bar when all are."""
        if self.closed:
            return
        now = self.timer()
        elapsed = now - self.started
        expected_total = elapsed / done * self.total if done else 0.0
        last = done >= self.total
        wanted = self.drawn or expected_total >= self.min_seconds
        due = self.last_drawn is None or now - self.last_drawn >= REDRAW_SECONDS or last
        if wanted and due:
            self.stream.write("\r" + self.line(done, elapsed, **values) + "\033[K")
            self.stream.flush()
            self.drawn, self.last_drawn = True, now
        if last:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.drawn:
                self.stream.write("\n")
                self.stream.flush()


class NoProgress:
    """Accepts the same calls and draws nothing (logs, CI, pipes)."""

    def update(self, done: int, **values: float) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, label: str, stream: TextIO | None = None, min_seconds: float = MIN_SECONDS,
                 unit: str = "epochs") -> ProgressBar | NoProgress:
    """A ProgressBar when a person watches stderr (or ``stream``), else NoProgress."""
    stream = sys.stderr if stream is None else stream
    if not attended(stream):
        return NoProgress()
    return ProgressBar(total, label, stream, min_seconds, unit)
