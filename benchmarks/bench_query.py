"""Wall time of `mimtax query` without --search (a fresh process each time, as a user runs it).

Baselines measured in the same run: a bare `python -c pass`, and `python -c "import pandas"` (the floor for
anything that reads the corpus). Also checks that torch / sentence-transformers were not imported.
Usage: python benchmarks/bench_query.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUERIES = {
    "category": ["query", "--category", "masking strategy", "--taxonomy", "mim-survey"],
    "combined json": ["query", "--taxonomy", "awesome-mim", "--category", "video", "--year", "2022..2023",
                      "--has-code", "--format", "json"],
}


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    bare = wall([sys.executable, "-c", "pass"], args.repeat)
    pandas = wall([sys.executable, "-c", "import pandas"], args.repeat)
    figures = {"python_bare_s": round(bare, 3), "import_pandas_s": round(pandas, 3), "target_s": 1.0}
    print(f"baseline: bare python {bare:.3f} s, import pandas {pandas:.3f} s")
    for name, q in QUERIES.items():
        t = wall([sys.executable, "-m", "taxonomy", *q], args.repeat)
        figures[name] = {"wall_s": round(t, 3), "vs_import_pandas": round(t / pandas, 2), "vs_target": round(t, 3)}
        print(f"{name:15s} {t:.3f} s (median of {args.repeat})  {t / pandas:.2f}x import-pandas  {t / 1.0:.2f}x target")
    probe = ("import sys; from taxonomy.cli import main; sys.argv=['mimtax','query','--category','video'];\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    heavy = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    figures["imports_torch_or_st"] = heavy
    print("torch / sentence-transformers imported:", heavy)
    print("wrote", save("query", figures))


if __name__ == "__main__":
    main()
