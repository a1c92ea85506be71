"""The tree of 1M papers built from float16 shards by memory map, against the same tree built in memory.

Synthetic 384-d embeddings with a three-level topic hierarchy (`bench_linkage.data`), written as shards of
65,536 rows; then, each in its own process so peak memory (max RSS) is its own: two-stage Ward over the
memory-mapped shards (`ShardedVectors`), and over the same values held in memory as one float32 array (the
baseline). Both trees must be identical. Targets (issue "Map a whole field"): <= 60 s and <= 4 GB from shards.
Usage: python benchmarks/bench_shards_tree.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import save  # noqa: E402
from bench_linkage import data  # noqa: E402

SHARD_ROWS = 65_536


def write_shards(n: int, folder: Path) -> None:
    from taxonomy.scale.shards import Shard, write_plan

    X = data(n).astype(np.float16)
    keys = []
    for index, start in enumerate(range(0, n, SHARD_ROWS)):
        stop = min(n, start + SHARD_ROWS)
        shard = Shard(folder, "synthetic", index, [(f"r{i}", f"synthetic {i}") for i in range(start, stop)])
        shard.write(X[start:stop])
        keys.append((shard.key, stop - start))
    write_plan(folder, "synthetic", SHARD_ROWS, "bench_linkage.data", keys)


def child(kind: str, n: int, folder: str, out: str) -> None:
    from taxonomy.clustering.cluster import two_stage_linkage
    from taxonomy.scale.shards import ShardedVectors

    X = ShardedVectors(folder) if kind == "shards" else data(n).astype(np.float16).astype(np.float32)
    start = time.perf_counter()
    Z = two_stage_linkage(X)
    seconds = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    Path(out).write_text(json.dumps({"seconds": seconds, "peak_gb": peak_gb,
                                     "tree_sha256": hashlib.sha256(np.ascontiguousarray(Z).tobytes()).hexdigest()}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2], args.child[3])
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "shards"
        began = time.perf_counter()
        write_shards(args.n, folder)
        print(f"wrote {args.n} rows as shards in {time.perf_counter() - began:.1f} s")
        results = {}
        for kind in ("memory", "shards"):
            out = Path(tmp) / f"{kind}.json"
            subprocess.run([sys.executable, __file__, "--child", kind, str(args.n), str(folder), str(out)], check=True)
            results[kind] = json.loads(out.read_text())
            print(kind, results[kind])
    row = {"n": args.n, "shard_rows": SHARD_ROWS,
           "from_shards_s": round(results["shards"]["seconds"], 2), "from_shards_peak_gb": round(results["shards"]["peak_gb"], 2),
           "in_memory_s": round(results["memory"]["seconds"], 2), "in_memory_peak_gb": round(results["memory"]["peak_gb"], 2),
           "time_ratio": round(results["shards"]["seconds"] / results["memory"]["seconds"], 2),
           "memory_ratio": round(results["shards"]["peak_gb"] / results["memory"]["peak_gb"], 2),
           "identical_trees": results["shards"]["tree_sha256"] == results["memory"]["tree_sha256"]}
    print(json.dumps(row))
    print("wrote", save("shards-tree", {"row": row, "targets": {"seconds": 60, "peak_gb": 4}}))


if __name__ == "__main__":
    main()
