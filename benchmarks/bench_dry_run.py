"""Wall time of `mimtax verify --dry-run --device cpu` (every method, one seed, toy sizes) in a fresh process.

Target: under 60 s on 2 cores. Run with OMP_NUM_THREADS 1 and 2 in the environment (the dry run itself uses one
torch thread: on a shared machine a second one only waits); wall and CPU seconds, the CPU time being the steadier
figure on a shared machine. Baseline, measured in the same run: `mimtax --version` (the interpreter and the CLI's
imports alone).
Usage: python benchmarks/bench_dry_run.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str], threads: int, cwd: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child): on a shared machine the CPU time is the steadier figure."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "taxonomy", *args], check=True, capture_output=True, cwd=cwd, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        baseline, _ = timed(["--version"], 1, tmp)
        for threads in (1, 2):
            for _ in range(args.repeat):
                wall, cpu = timed(["verify", "--dry-run", "--device", "cpu"], threads, tmp)
                summary = json.loads((Path(tmp) / "runs" / "verify" / "summary.json").read_text(encoding="utf-8"))
                rows.append({"omp_num_threads": threads, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                             "inside_s": round(summary["wall_s"], 1), "methods": len(summary["methods"])})
                print(f"OMP_NUM_THREADS={threads}: {wall:5.1f} s, {cpu:.1f} s of CPU "
                      f"({summary['wall_s']:.1f} s inside verify, "
                      f"{len(summary['methods'])} methods; {wall / baseline:.0f}x `mimtax --version`, "
                      f"{wall / 60:.2f}x the 60 s target)")
        load = os.getloadavg()
    print(f"baseline `mimtax --version`: {baseline:.1f} s; load average {load[0]:.1f}")
    print("wrote", save("dry-run", {"rows": rows, "baseline_version_s": round(baseline, 1), "target_s": 60,
                                    "load_average_1min": round(load[0], 2)}))


if __name__ == "__main__":
    main()
