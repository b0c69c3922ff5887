"""Peak memory and speed of the GTEx v8 GCT -> store conversion, on synthetic files.

Writes a gzipped GCT 1.2 of the real shape (56,200 genes x 17,382 samples unless
--genes/--samples say otherwise) with matching sample attributes and subject
phenotypes into a temporary folder, converts it with the ``gtex`` source in a child
process, and prints that process's peak RSS next to the 3 GB target and the size of
the dense float32 matrix (what loading it whole would cost), plus wall and CPU
time and throughput (CPU time is the steadier figure on a shared machine). Checks
a few converted values against the generated ones. The folder is deleted
afterwards unless --keep is given; it needs about 2.2 GB (gzip) + 3.9 GB
(scratch) + 2.8 GB (store) of disk at full size.

Values are drawn from a table of fixed-width strings ("012.34"), so the file is
written at numpy speed; the text is about 7 bytes per value, close to the real file.

    .venv/bin/python benchmarks/gtex_streaming.py                     # full size
    .venv/bin/python benchmarks/gtex_streaming.py --samples 2000      # smaller
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

TARGET_BYTES = 3 * 1000**3
TISSUES = ["Adipose Tissue", "Adrenal Gland", "Bladder", "Blood", "Blood Vessel", "Bone Marrow", "Brain",
           "Breast", "Cervix Uteri", "Colon", "Esophagus", "Fallopian Tube", "Heart", "Kidney", "Liver", "Lung",
           "Muscle", "Nerve", "Ovary", "Pancreas", "Pituitary", "Prostate", "Salivary Gland", "Skin",
           "Small Intestine", "Spleen", "Stomach", "Testis", "Thyroid", "Uterus", "Vagina"]
ROWS_PER_WRITE = 64
CHECKED_GENES = 8


def value_table(size=4096, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-width TPM strings "ddd.dd<TAB>" (about 30% zeros) as a byte table, and their values."""
    rng = np.random.default_rng(seed)
    tpm = np.round(np.minimum(rng.lognormal(1.0, 2.0, size), 999.99), 2)
    tpm[rng.random(size) < 0.3] = 0.0
    text = "".join(f"{v:06.2f}\t" for v in tpm).encode()
    return np.frombuffer(text, dtype=np.uint8).reshape(size, 7), tpm


def gzip_member(data: bytes) -> bytes:
    # Concatenated gzip members are one valid gzip file; zlib releases the GIL, so threads help.
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def sample_ids(n_samples: int) -> list[str]:
    n_donors = max(1, n_samples // 18)
    return [f"GTEX-{i % n_donors:05X}-{i // n_donors:04d}-SM-{i:05X}" for i in range(n_samples)]


def write_gct(path: Path, n_genes: int, ids: list[str], seed=1) -> tuple[int, dict]:
    """Write the GCT; return its uncompressed size and the values of the first and last genes."""
    table, tpm = value_table()
    rng = np.random.default_rng(seed)
    n_samples = len(ids)
    checked: dict[int, np.ndarray] = {}
    text_bytes = 0

    def blocks():
        nonlocal text_bytes
        head = f"#1.2\n{n_genes}\t{n_samples}\nName\tDescription\t" + "\t".join(ids) + "\n"
        text_bytes += len(head)
        yield head.encode()
        for start in range(0, n_genes, ROWS_PER_WRITE):
            rows = min(ROWS_PER_WRITE, n_genes - start)
            picks = rng.integers(0, len(table), size=(rows, n_samples), dtype=np.uint16)
            for r in range(rows):
                gene = start + r
                if gene < CHECKED_GENES or gene >= n_genes - CHECKED_GENES:
                    checked[gene] = tpm[picks[r]]
            cells = table[picks]
            cells[:, -1, -1] = ord("\n")
            chunk = b"".join(f"ENSG{start + r:011d}.1\tGENE{start + r}\t".encode() + cells[r].tobytes()
                             for r in range(rows))
            text_bytes += len(chunk)
            yield chunk

    with open(path, "wb") as out, ThreadPoolExecutor(2) as pool:
        pending = []
        for block in blocks():
            pending.append(pool.submit(gzip_member, block))
            if len(pending) >= 4:  # bounded: at most a few blocks in flight
                out.write(pending.pop(0).result())
        for future in pending:
            out.write(future.result())
    return text_bytes, checked


def write_annotations(folder: Path, ids: list[str]) -> tuple[Path, Path]:
    attributes, phenotypes = folder / "SampleAttributesDS.txt", folder / "SubjectPhenotypesDS.txt"
    lines = ["SAMPID\tSMATSSCR\tSMCENTER\tSMPTHNTS\tSMRIN\tSMTS\tSMTSD\tSMAFRZE"]
    for i, sample in enumerate(ids):
        tissue = TISSUES[i % len(TISSUES)]
        lines.append(f"{sample}\t0\tB1\t\"2 pieces, delineated\t7.1\t{tissue}\t{tissue} - detail\tRNASEQ")
    lines.append(f"{ids[0].rsplit('-', 2)[0]}-0003-SM-WGS00\t\tB1\t\t\tBlood\tWhole Blood\tWGS")
    attributes.write_text("\n".join(lines) + "\n")
    donors = sorted({"-".join(s.split("-")[:2]) for s in ids})
    phenotypes.write_text("SUBJID\tSEX\tAGE\tDTHHRDY\n" + "".join(f"{d}\t{1 + i % 2}\t60-69\t2\n"
                                                                  for i, d in enumerate(donors)))
    return attributes, phenotypes


def convert(folder: Path) -> None:
    """Child process: run the conversion and print its measurements as JSON."""
    from exprbench.sources.gtex import GTExV8

    class TimedGTEx(GTExV8):
        def _write_sample_major(self, *args, **kwargs):
            started, cpu_started = time.perf_counter(), time.process_time()
            super()._write_sample_major(*args, **kwargs)
            self.pass2_seconds = time.perf_counter() - started
            self.pass2_cpu_seconds = time.process_time() - cpu_started

    rss_after_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    source = TimedGTEx()
    downloads = {"gene_tpm": folder / "gene_tpm.gct.gz", "sample_attributes": folder / "SampleAttributesDS.txt",
                 "subject_phenotypes": folder / "SubjectPhenotypesDS.txt"}
    started, cpu_started = time.perf_counter(), time.process_time()
    source.write(folder / "gtex.h5", downloads)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    print(json.dumps({"seconds": seconds, "pass2_seconds": source.pass2_seconds, "cpu_seconds": cpu_seconds,
                      "pass2_cpu_seconds": source.pass2_cpu_seconds,
                      "rss_after_imports": rss_after_imports,
                      "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def check_values(store: Path, checked: dict, n_genes: int, n_samples: int) -> float:
    """Largest difference between stored values and log2(TPM + 1) of the generated ones."""
    from exprbench.store import open_dataset

    rows = sorted({0, n_samples // 2, n_samples - 1})
    with open_dataset(store) as data:
        assert data.shape == (n_samples, n_genes), data.shape
        stored = data.read_expression(rows)
    worst = 0.0
    for gene, values in checked.items():
        expected = np.log2(values[rows] + 1.0)
        worst = max(worst, float(np.abs(stored[:, gene] - expected).max()))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genes", type=int, default=56_200)
    parser.add_argument("--samples", type=int, default=17_382)
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary folder goes")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--convert-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.convert_only:
        convert(args.convert_only)
        return 0

    folder = Path(tempfile.mkdtemp(prefix="exprbench-gtex-bench-", dir=args.workdir))
    try:
        ids = sample_ids(args.samples)
        started = time.perf_counter()
        text_bytes, checked = write_gct(folder / "gene_tpm.gct.gz", args.genes, ids)
        write_annotations(folder, ids)
        generate_seconds = time.perf_counter() - started
        gz_bytes = (folder / "gene_tpm.gct.gz").stat().st_size
        print(f"generated {args.genes} genes x {args.samples} samples: {gz_bytes / 1e6:.0f} MB gzip, "
              f"{text_bytes / 1e6:.0f} MB text, in {generate_seconds:.0f} s", flush=True)

        child = subprocess.run([sys.executable, __file__, "--convert-only", str(folder)],
                               capture_output=True, text=True)
        if child.returncode:
            print(child.stderr, file=sys.stderr)
            return child.returncode
        result = json.loads(child.stdout.strip().splitlines()[-1])
        worst = check_values(folder / "gtex.h5", checked, args.genes, args.samples)
        report(args, result, gz_bytes, text_bytes, (folder / "gtex.h5").stat().st_size, worst)
    finally:
        if args.keep:
            print(f"files kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def report(args, result: dict, gz_bytes: int, text_bytes: int, store_bytes: int, worst: float) -> None:
    values = args.genes * args.samples
    dense = values * 4
    seconds, cpu, peak = result["seconds"], result["cpu_seconds"], result["peak_rss"]
    pass2, pass2_cpu = result["pass2_seconds"], result["pass2_cpu_seconds"]
    print(f"conversion: {seconds:.1f} s wall, {cpu:.1f} s CPU (pass 1, parse to scratch: {seconds - pass2:.1f} s "
          f"wall, {cpu - pass2_cpu:.1f} s CPU; pass 2, scratch to store: {pass2:.1f} s wall, {pass2_cpu:.1f} s CPU)")
    for label, span in (("wall", seconds), ("CPU", cpu)):
        print(f"throughput per {label} second: {values / span / 1e6:.2f} M values/s, "
              f"{gz_bytes / span / 1e6:.1f} MB/s of gzip input, {text_bytes / span / 1e6:.1f} MB/s of GCT text")
    print(f"peak RSS: {peak / 1e6:.0f} MB (after imports: {result['rss_after_imports'] / 1e6:.0f} MB)")
    print(f"  = {peak / TARGET_BYTES:.3f} x the 3 GB target")
    print(f"  = {peak / dense:.3f} x the dense float32 matrix ({dense / 1e6:.0f} MB)")
    print(f"scratch disk used during conversion: {dense / 1e6:.0f} MB; store file: {store_bytes / 1e6:.0f} MB")
    print(f"largest |stored - log2(TPM + 1)| on checked values: {worst:.2e}")


if __name__ == "__main__":
    sys.exit(main())
