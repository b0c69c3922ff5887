"""removeBatchEffect through R's limma against the native numpy fit, in one run.

Each (size, backend) case runs in a fresh Python process with one BLAS thread:
it makes a random float32 samples x genes matrix and a binary label (as the
workflow's signal removal uses it), starts R with a tiny call when the backend is
``r`` (start-up is not timed), then times ``remove_batch_effect`` (float32 in and
out, as the job calls it); ratios use the fastest call of each (the machine may be
shared), medians are shown too. Peak memory is the growth of the process's peak RSS
during a call over its RSS just before it (the kernel's peak mark, VmHWM, reset
through /proc/self/clear_refs before each call; the largest over the calls), the
same measure for both backends (R's allocations are invisible to tracemalloc);
for the native backend one more call is traced with tracemalloc (numpy only).
The returned matrix counts toward the peak.

The native path is bound by memory traffic: it reads the input twice and writes
the output once. Its time is also given against the machine's limit, the time to
move the least traffic any removal needs (read the input once, write the output
once) at the copy bandwidth measured at the start of this run.

The largest size is run natively only: through R the peak RSS grows by about 15x
the float32 input (2.8 GiB at 10,000 x 5,000), about 17 GiB on top of the process
at 17,000 x 18,000, where R failed to allocate under a 20 GB address-space limit.

    nice -n 10 .venv/bin/python benchmarks/limma_backends.py [--sizes 300x200,1000x5000 --reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SIZES = "300x200,1000x5000,10000x5000,17000x18000"
NATIVE_ONLY = {(17000, 18000)}  # R cannot allocate it under 20 GB
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def _timed_peak_growth(call) -> tuple[float, float]:
    """Seconds of ``call`` and its peak RSS over the RSS just before it (MiB): the
    kernel's peak mark (VmHWM) is reset first by writing 5 to /proc/self/clear_refs."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    before = _status_mib("VmRSS")
    start = time.perf_counter()
    call()  # the returned matrix is dropped only after it has counted toward the peak
    seconds = time.perf_counter() - start
    return seconds, _status_mib("VmHWM") - before


def run_case(n_samples: int, n_genes: int, backend: str, reps: int) -> dict:
    """One case, inside its own process."""
    import tracemalloc

    import numpy as np

    from exprbench.limma import remove_batch_effect

    rng = np.random.default_rng(0)
    expression = rng.standard_normal((n_samples, n_genes), dtype=np.float32)
    labels = rng.integers(0, 2, n_samples)
    # First calls load R and limma (backend r) and LAPACK's routines: not measured.
    remove_batch_effect(np.zeros((4, 3)), [0, 0, 1, 1], backend=backend)
    seconds, peak_growth = [], 0.0
    for _ in range(reps):
        call_seconds, growth = _timed_peak_growth(lambda: remove_batch_effect(expression, labels, backend=backend))
        seconds.append(call_seconds)
        peak_growth = max(peak_growth, growth)
    traced = None
    if backend == "native":
        tracemalloc.start()
        remove_batch_effect(expression, labels, backend=backend)
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return {"seconds": seconds, "peak_growth_mib": peak_growth, "traced_peak_mib": traced,
            "input_mib": expression.nbytes / 2**20}


def copy_bandwidth() -> float:
    """Bytes per second of a large float32 copy (read + write), best of five."""
    import numpy as np

    source = np.ones(2**26, dtype=np.float32)  # 256 MiB
    target = np.empty_like(source)
    best = min(_timed(lambda: np.copyto(target, source)) for _ in range(5))
    return 2 * source.nbytes / best


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def in_subprocess(n_samples: int, n_genes: int, backend: str, reps: int) -> dict:
    command = [sys.executable, __file__, "--case", f"{n_samples}x{n_genes}", "--backend", backend, "--reps", str(reps)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **ONE_THREAD})
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or [f"exit status {done.returncode:d}"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=SIZES, help="samples x genes, comma-separated")
    parser.add_argument("--reps", type=int, default=3,
                        help="timed calls per case (at most 2 from 10 million elements on)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        n_samples, n_genes = map(int, args.case.split("x"))
        print(json.dumps(run_case(n_samples, n_genes, args.backend, args.reps)))
        return

    os.environ.update(ONE_THREAD)
    bandwidth = copy_bandwidth()
    print(f"copy bandwidth (1 thread): {bandwidth / 2**30:.1f} GiB/s; one BLAS thread; each case in its own process")
    print("| N x G | R s min / median | native s min / median | time R/native (min) | R peak MiB | native peak MiB "
          "| memory R/native | native peak / float32 input | native s (min) / bandwidth limit |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        n_samples, n_genes = map(int, size.split("x"))
        reps = args.reps if n_samples * n_genes < 10**7 else min(args.reps, 2)
        native = in_subprocess(n_samples, n_genes, "native", reps)
        r = {"error": "not run (needs > 20 GB)"} if (n_samples, n_genes) in NATIVE_ONLY else \
            in_subprocess(n_samples, n_genes, "r", reps)
        print(_row(n_samples, n_genes, r, native, bandwidth), flush=True)


def _row(n_samples, n_genes, r, native, bandwidth) -> str:
    size = f"{n_samples:,} x {n_genes:,}"
    if "error" in native:
        return f"| {size} | native failed: {native['error']} |"
    native_s, native_mib = min(native["seconds"]), native["peak_growth_mib"]
    limit_s = 2 * n_samples * n_genes * 4 / bandwidth  # read the float32 input once, write the float32 output once
    scale = (f"{native_mib / native['input_mib']:.1f}x "
             f"(traced {native['traced_peak_mib'] / native['input_mib']:.1f}x)")
    if "error" in r:
        r_s, time_ratio, r_mib, memory_ratio = r["error"], "—", "—", "—"
    else:
        r_seconds = min(r["seconds"])
        r_s, time_ratio = _min_median(r["seconds"]), f"**{r_seconds / native_s:.1f}**"
        r_mib, memory_ratio = f"{r['peak_growth_mib']:.0f}", f"**{r['peak_growth_mib'] / max(native_mib, 1):.1f}**"
    cells = [size, r_s, _min_median(native["seconds"]), time_ratio, r_mib, f"{native_mib:.0f}", memory_ratio, scale,
             f"{native_s / limit_s:.1f}"]
    return "| " + " | ".join(cells) + " |"


def _min_median(seconds) -> str:
    return f"{min(seconds):.4f} / {statistics.median(seconds):.4f}"


if __name__ == "__main__":
    main()
