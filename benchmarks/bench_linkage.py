"""Exact vs two-stage linkage on synthetic 384-d embeddings: time, peak memory, agreement.

Each measurement runs in its own process so peak memory (max RSS) is its own. Synthetic data: a three-level hierarchy of topics
(10 > 30 > 100 centres) with papers scattered around the finest, L2-normalised, so cuts at k = 10, 30, 100 mean something.
Exact Ward is skipped where its n^2/2 distance matrix would not fit in --max-exact-gb.
Usage: python benchmarks/bench_linkage.py [--sizes 10000 30000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def data(n: int, dim: int = 384, seed: int = 0, noise: float = 0.35) -> np.ndarray:
    """Hierarchical topics, as in a literature corpus: 10 fields > 30 topics > 100 subtopics, then papers."""
    rng = np.random.default_rng(seed)
    unit = lambda m: rng.normal(size=(m, dim)).astype(np.float32) / np.sqrt(dim)  # noqa: E731
    fields = unit(10) * 3.0
    topics = np.repeat(fields, 3, axis=0) + unit(30) * 1.5
    subtopics = topics[np.arange(100) % 30] + unit(100) * 0.8
    X = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):  # in chunks, so generating the data does not set the memory peak
        stop = min(n, start + 100_000)
        chunk = subtopics[rng.integers(0, 100, stop - start)] + unit(stop - start) * noise
        X[start:stop] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return X


def child(method: str, n: int, out: str, noise: float) -> None:
    sys.path.insert(0, str(ROOT))
    from taxonomy.clustering import cluster

    X = data(n, noise=noise)
    start = time.perf_counter()
    Z = cluster.exact_linkage(X, "ward") if method == "exact" else cluster.two_stage_linkage(X)
    elapsed = time.perf_counter() - start
    labels = {k: cluster.cut(Z, k).tolist() for k in (10, 30, 100)} if n <= 100_000 else {}
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    Path(out).write_text(json.dumps({"seconds": elapsed, "peak_gb": peak_gb, "labels": labels}))


def measure(method: str, n: int, tmp: Path, timeout: int, noise: float) -> dict | None:
    out = tmp / f"{method}-{n}.json"
    try:
        subprocess.run([sys.executable, __file__, "--child", method, str(n), str(out), str(noise)], check=True, timeout=timeout)
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:
        print(f"  {method} n={n}: did not finish ({type(exc).__name__})")
        return None
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000, 1_000_000])
    parser.add_argument("--max-exact-gb", type=float, default=8.0)
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--noise", type=float, default=0.35,
                        help="spread of papers around their subtopic (0.35: clear topics; 1.0: heavily overlapping)")
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2], float(args.child[3]))
        return
    import tempfile

    from sklearn.metrics import adjusted_rand_score

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            exact_gb = n * (n - 1) / 2 * 8 / 2**30
            two = measure("two-stage", n, Path(tmp), args.timeout, args.noise)
            exact = measure("exact", n, Path(tmp), args.timeout, args.noise) if exact_gb <= args.max_exact_gb else None
            row = {"n": n, "two_stage_s": two and round(two["seconds"], 2), "two_stage_peak_gb": two and round(two["peak_gb"], 2),
                   "exact_s": exact and round(exact["seconds"], 2), "exact_peak_gb": exact and round(exact["peak_gb"], 2)}
            if exact and two:
                for k in ("10", "30", "100"):
                    row[f"ari_k{k}"] = round(adjusted_rand_score(exact["labels"][k], two["labels"][k]), 3)
                row["speedup"] = round(exact["seconds"] / two["seconds"], 1)
            elif exact is None:
                row["exact_skipped"] = f"distance matrix alone would need {exact_gb:.1f} GB"
            rows.append(row)
            print(json.dumps(row))
    name = "linkage" if args.noise == 0.35 else f"linkage-noise{args.noise:g}"
    print("wrote", save(name, {"noise": args.noise, "rows": rows, "targets": {"1M_seconds": 60, "1M_peak_gb": 4, "ari": 0.8}}))


if __name__ == "__main__":
    main()
