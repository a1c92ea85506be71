"""Wall time of `mimtax run METHOD --preset smoke --device cpu` for every method (3 seeds, fresh process).

Target: under a minute each. Baseline, measured in the same run: MAE's smoke run; each method's ratio to it.
Also records each smoke report's held-out loss before/after (the plumbing works) and its verdict (a smoke run
never gives one: 'no verdict' is the expected value).
Usage: python benchmarks/bench_smoke.py [--methods mae simmim ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from reference_impls import METHODS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ["mae", *[m for m in args.methods if m != "mae"]]:
            out = Path(tmp) / name
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "taxonomy", "run", name, "--preset", "smoke", "--device", "cpu",
                            "--out", str(out)], check=True, capture_output=True, cwd=ROOT)
            wall = time.perf_counter() - start
            report = json.loads((out / "report.json").read_text())
            pre = report["pretraining"]
            rows[name] = {"wall_s": round(wall, 1), "heldout_loss_before": round(pre["heldout_loss_before"][0], 4),
                          "heldout_loss_after": round(pre["heldout_loss_after"][0], 4),
                          "prepared": report.get("prepared"), "diagnostics": report.get("diagnostics"),
                          "verdict": report["results"]["verdict"]["verdict"]}
            ratio = wall / rows["mae"]["wall_s"]
            print(f"{name:9s} {wall:5.1f} s  ({ratio:.2f}x MAE, {wall / 60:.2f}x the 1-minute target)  held-out loss "
                  f"{rows[name]['heldout_loss_before']:.3f} -> {rows[name]['heldout_loss_after']:.3f}")
    print("wrote", save("smoke", {"rows": rows, "target_s": 60}))


if __name__ == "__main__":
    main()
