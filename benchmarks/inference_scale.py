"""Scale of the paper's inference networks: parameters, peak memory, samples per second.

Builds D-GEX-9000 (three tanh layers of 9,000 units, D-GEX's SGD) and Deep-LSMTL-9000
(three densely connected 9,000-unit layers + the relation subnetwork, Adam) for
943 landmarks -> 9,520 targets and times training steps on random batches of 200,
on CPU and, when torch sees one, on CUDA. Each (model, device) runs in its own
process so the peak resident memory (CPU) or peak allocated memory (CUDA) is its
own. D-GEX is the baseline: the last table gives Deep-LSMTL / D-GEX ratios.

A second part times mini-batch streaming from an HDF5 store (the route the GEO
matrix, ~4.6 GB as float32, takes) against the same rows held in memory.

    .venv/bin/python benchmarks/inference_scale.py [--width 9000 --batches 3 --threads 2 --stream-rows 4000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODELS = {
    "dgex": lambda width: {"n_hidden_layers": 3, "hidden_size": width, "dropout": 0.1},
    "deep_lsmtl": lambda width: {"hidden_sizes": [width] * 3, "latent_dim": 100, "mask_ratio": 0.5},
}


def child(args) -> None:
    import torch

    from exprbench.inference.models import INFERENCE_MODELS

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = INFERENCE_MODELS.get(args.model)(**MODELS[args.model](args.width), batch_size=args.batch,
                                             device=args.device)
    model.device_ = device
    model.n_outputs_ = args.targets
    model.network_ = model._build(args.landmarks, args.targets).to(device)
    model._setup()
    x = torch.randn(args.batch, args.landmarks, device=device)
    y = torch.randn(args.batch, args.targets, device=device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    model.network_.train()
    model._train_step(x, y, epoch=0)  # warm-up: allocations, optimiser state, kernels
    sync()
    started = time.perf_counter()
    for _ in range(args.batches):
        model._train_step(x, y, epoch=0)
    sync()
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    model.predict(np.random.default_rng(0).standard_normal((args.batch * args.batches, args.landmarks)))
    sync()
    predict_seconds = time.perf_counter() - started
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps({
        "model": args.model, "device": args.device,
        "parameters": sum(p.numel() for p in model.network_.parameters()),
        "predictor_parameters": sum(p.numel() for p in model.predictor().parameters()),
        "peak_memory_mb": round(peak), "train_samples_per_s": args.batch * args.batches / train_seconds,
        "predict_samples_per_s": args.batch * args.batches / predict_seconds,
    }))


def measure(args, model: str, device: str) -> dict:
    command = [sys.executable, __file__, "--child", "--model", model, "--device", device,
               *[f"--{k}={getattr(args, k)}" for k in ("width", "landmarks", "targets", "batch", "batches", "threads")]]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return {"model": model, "device": device, "error": result.stderr.strip().splitlines()[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def streaming(args) -> list[dict]:
    import pandas as pd

    from exprbench.inference.batches import StoreBatches
    from exprbench.store import stream_dataset

    n_genes = args.landmarks + args.targets
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store.h5"
        rng = np.random.default_rng(0)
        genes = pd.DataFrame({"gene_id": [f"g{i}" for i in range(n_genes)],
                              "symbol": [f"g{i}" for i in range(n_genes)]})
        with stream_dataset(path, genes, expected_samples=args.stream_rows) as stream:
            for start in range(0, args.stream_rows, 1000):
                stream.append(rng.standard_normal((min(1000, args.stream_rows - start), n_genes), dtype=np.float32))
            ids = [f"s{i}" for i in range(args.stream_rows)]
            stream.finish(pd.DataFrame({"sample_id": ids, "study": ids, "donor": ids}), {"source": "benchmark"})
        train = np.sort(rng.choice(args.stream_rows, size=int(0.8 * args.stream_rows), replace=False))
        stats = (np.zeros(n_genes), np.ones(n_genes))
        for label, limit in (("streamed from HDF5", 0.0), ("in memory", 1e9)):
            started = time.perf_counter()
            source = StoreBatches(path, train, np.arange(args.landmarks), np.arange(args.landmarks, n_genes), *stats,
                                  batch_size=args.batch, chunk_rows=2048, max_in_memory_mb=limit)
            load = time.perf_counter() - started
            started = time.perf_counter()
            count = sum(len(xb) for xb, _ in source.epoch(0))
            epoch = time.perf_counter() - started
            rows.append({"mode": label, "rows": count, "load_s": load, "epoch_s": epoch,
                         "rows_per_s": count / (load + epoch), "held_mb": 0 if limit == 0 else source.matrix_mb,
                         "chunk_mb": 2048 * n_genes * 4 / 2 ** 20})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=9000)
    parser.add_argument("--landmarks", type=int, default=943)
    parser.add_argument("--targets", type=int, default=9520)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--batches", type=int, default=3, help="timed training steps after one warm-up step")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stream-rows", type=int, default=4000, help="rows of the synthetic store (0: skip)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--device", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"{args.landmarks} landmarks -> {args.targets} targets, width {args.width}, batch {args.batch}, "
          f"{args.batches} timed steps, {args.threads} CPU threads; devices: {', '.join(devices)}")
    results = [measure(args, model, device) for device in devices for model in MODELS]
    print(f"\n{'model':<11} {'device':<6} {'parameters':>12} {'peak MB':>9} {'train samples/s':>16} "
          f"{'predict samples/s':>18}")
    for r in results:
        if "error" in r:
            print(f"{r['model']:<11} {r['device']:<6} failed: {r['error']}")
            continue
        print(f"{r['model']:<11} {r['device']:<6} {r['parameters']:>12,} {r['peak_memory_mb']:>9,} "
              f"{r['train_samples_per_s']:>16.1f} {r['predict_samples_per_s']:>18.1f}")
    print("\nratio Deep-LSMTL / D-GEX (baseline)")
    for device in devices:
        pair = {r["model"]: r for r in results if r["device"] == device and "error" not in r}
        if len(pair) == 2:
            a, b = pair["deep_lsmtl"], pair["dgex"]
            print(f"  {device}: parameters x{a['parameters'] / b['parameters']:.2f}, peak memory "
                  f"x{a['peak_memory_mb'] / b['peak_memory_mb']:.2f}, training speed "
                  f"x{a['train_samples_per_s'] / b['train_samples_per_s']:.2f}")
    if args.stream_rows:
        print(f"\nmini-batches from a {args.stream_rows} x {args.landmarks + args.targets} store "
              "(80% as training rows)")
        for r in streaming(args):
            print(f"  {r['mode']:<19} {r['rows']} rows, load {r['load_s']:.2f} s + epoch {r['epoch_s']:.2f} s = "
                  f"{r['rows_per_s']:.0f} rows/s; matrix held {r['held_mb']:.0f} MB (chunk {r['chunk_mb']:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
