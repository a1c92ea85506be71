"""Embedding a large corpus on this machine: one process (`--engine local`) against Ray in local mode
(`--engine ray`, an actor pool of CPU workers), end to end from a JSONL file to shards.

The texts are synthetic titles of realistic length: words of the shipped corpus's titles drawn at random
(seeded), with lengths drawn from the real titles', so no text repeats and no cache helps. Each engine runs
in its own process; peak memory is the largest sum of resident memory over that process and all its
descendants (Ray's raylet, object store and workers included), sampled every 0.5 s.
Usage: python benchmarks/bench_embed_scale.py [--n 100000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def synthetic_titles(n: int, seed: int = 0) -> list[str]:
    titles = pd.read_csv(ROOT / "data" / "papers.csv")["title"].astype(str)
    words = [w for t in titles for w in t.split()]
    lengths = np.array([len(t.split()) for t in titles])
    rng = np.random.default_rng(seed)
    vocab = np.array(words)
    return [" ".join(vocab[rng.integers(0, len(vocab), k)]) for k in rng.choice(lengths, n)]


def peak_tree_rss(proc: subprocess.Popen) -> float:
    """Largest summed RSS (GB) of `proc` and its descendants while it runs."""
    import psutil

    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.5)
    return peak / 2**30


def run_engine(engine: str, source: Path, out: Path, workers: int) -> dict:
    code = ("import sys, time; sys.path.insert(0, %r)\n"
            "from taxonomy.scale import embed_records\n"
            "t = time.perf_counter()\n"
            "s = embed_records(%r, %r, engine=%r, workers=%d, shard_size=1024, progress=False)\n"
            "print(time.perf_counter() - t, s.records, s.computed)\n") % (str(ROOT), str(source), str(out), engine, workers)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    peak = peak_tree_rss(proc)
    seconds, records, computed = proc.stdout.read().split()
    if proc.returncode != 0:
        raise SystemExit(f"{engine} failed")
    return {"seconds": round(float(seconds), 1), "records": int(records), "shards": int(computed),
            "records_per_s": round(int(records) / float(seconds), 1), "peak_gb": round(peak, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="Ray actors (one CPU each)")
    args = parser.parse_args()
    from taxonomy.scale import ShardedVectors

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "titles.jsonl"
        with source.open("w", encoding="utf-8") as fh:
            for i, title in enumerate(synthetic_titles(args.n)):
                fh.write(json.dumps({"id": f"s{i}", "title": title}) + "\n")
        rows = {}
        for engine in ("local", "ray"):
            rows[engine] = run_engine(engine, source, Path(tmp) / engine, args.workers)
            print(engine, rows[engine])
        a, b = ShardedVectors(Path(tmp) / "local"), ShardedVectors(Path(tmp) / "ray")
        same_order = a.ids == b.ids
        worst = max(float(np.abs(a[s:s + 65536] - b[s:s + 65536]).max()) for s in range(0, len(a), 65536))
    result = {"n": args.n, "text": "synthetic titles", "ray_workers": args.workers, "local": rows["local"],
              "ray": rows["ray"], "ray_over_local_throughput": round(rows["ray"]["records_per_s"] / rows["local"]["records_per_s"], 2),
              "ray_over_local_memory": round(rows["ray"]["peak_gb"] / rows["local"]["peak_gb"], 2),
              "same_order": same_order, "max_abs_difference": worst}
    print(json.dumps(result))
    print("wrote", save("embed-scale", result))


if __name__ == "__main__":
    main()
