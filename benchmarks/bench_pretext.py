"""Does each method learn its own pretext task? Acceptance run for issue #39, point 1.

Pretrains every method at the committed CPU verification's scale (ViT-micro/4, batch 128, 8,192-image pool,
lr 1e-3, and each method's step count read from the committed CPU verification: reports/verification/cpu/
summary.json), then runs
`reference_impls.pretext.pretext_check` on the 512 held-out images: held-out pretext loss at init and after,
beside the best trivial predictor on the same images and masks, with a bootstrap interval of the relative gain
and pass / fail against the margin declared in `reference_impls.pretext.MARGIN`.
Writes benchmarks/results/pretext-cpu.json after every method (a stopped run keeps what it finished).
Usage: python benchmarks/bench_pretext.py [--methods mae simmim ...] [--seeds 2] [--steps N] [--out PATH]
       [--data shapes|constellations]   # the procedural dataset (default shapes, as the committed CPU report)
       [--option KEY=VALUE ...]         # a method option, e.g. --option cell=2 --option smoothing=0 (MaskFeat)
       python benchmarks/bench_pretext.py --merge A.json B.json ...   # methods run as separate processes
Each method's row keeps the command and date that produced it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COMMITTED = ROOT / "reports" / "verification" / "cpu" / "summary.json"


def committed_steps() -> dict[str, int]:
    """Each method's pretraining steps in the committed CPU verification (the scale this check runs at), and at
    least the fewest steps it declares for the `cpu` preset (the run of eight gave I-JEPA 67 of its 300)."""
    from reference_impls import method_info

    return {row["method"]: max(row["steps"], method_info(row["method"]).steps_floor("cpu"))
            for row in json.loads(COMMITTED.read_text())["methods"]}


def main() -> None:
    import torch

    from reference_impls import METHODS, build_method
    from reference_impls.pretext import MARGIN
    from reference_impls.train import pretrain
    from reference_impls.verify import SCALES, procedural, train_config

    parser = argparse.ArgumentParser()
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="override every method's step count")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", default="shapes", choices=["shapes", "constellations"])
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a method option for build_method, e.g. cell=2 or smoothing=0 (MaskFeat's variants)")
    parser.add_argument("--out", type=Path, default=RESULTS / "pretext-cpu.json")
    parser.add_argument("--merge", nargs="+", type=Path, help="combine the rows of earlier result files into --out")
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, args.out)
        return
    torch.set_num_threads(args.threads)
    scale = SCALES["cpu"]
    options = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.option)}
    steps = committed_steps()
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    rows = previous.get("methods", {}) if isinstance(previous.get("methods"), dict) else {}
    for name in args.methods:
        n_steps = args.steps or steps[name]
        seeds = []
        for seed in range(args.seeds):
            data = procedural(args.data)[0](seed, pool=scale.pool, test_per_class=10, labelled_per_class=10)
            torch.manual_seed(seed)
            method = build_method(name, data.image_size, 4, data.channels, scale.size, **options)
            began = time.perf_counter()
            result = pretrain(method, data, train_config(scale, "cpu", n_steps, seed), progress=False)
            check = result["pretext"]
            seeds.append({"seed": seed, "steps": n_steps, "wall_s": round(time.perf_counter() - began, 1),
                          "prepared": result["prepared"] or None, **check})
            print(f"{name} seed {seed}: before {check['before']:.4f} after {check['after']:.4f} trivial "
                  f"{check['trivial']:.4f} gain {check['relative_gain']:.3f} [{check['gain_interval'][0]:.3f}, "
                  f"{check['gain_interval'][1]:.3f}] {'pass' if check['passed'] else 'FAIL'} "
                  f"({seeds[-1]['wall_s']:.0f} s)", file=sys.stderr, flush=True)
        key = name + "".join(f" {k}={v}" for k, v in sorted(options.items()))  # a variant keeps its own row
        rows[key] = {"passed": all(s["passed"] for s in seeds), "options": options,
                      "command": "python " + " ".join(sys.argv),
                      "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "seeds": seeds}
        save("pretext-cpu", {
            "what": "held-out pretext loss at init and after pretraining vs the best trivial predictor, same images "
                    "and masks; pass = lower end of the 95 % bootstrap interval of 1 - after / trivial >= margin",
            "margin": MARGIN, "scale": {"data": args.data, "model": f"ViT-{scale.size}/4", "batch": scale.batch,
                                        "pool": scale.pool,
                                        "lr": scale.lr, "heldout_images": 512,
                                        "steps_from": str(COMMITTED.relative_to(ROOT))},
            "device": "CPU", "threads": args.threads, "torch": torch.__version__, "methods": rows}, args.out)


def merge(paths: list[Path], out: Path) -> None:
    """One result file from several (later files win for a method run twice); the settings must agree."""
    combined: dict = {}
    for path in paths:
        part = json.loads(path.read_text())
        part.get("scale", {}).setdefault("data", "shapes")  # files from before --data were all on shapes
        for key in ("margin", "scale"):
            if key in combined and combined[key] != part[key]:
                raise SystemExit(f"{path}: its {key} differs from the files before it; not merged")
        combined.update({k: v for k, v in part.items() if k != "methods"})
        for row in part["methods"].values():  # rows from before rows carried their own command
            row.setdefault("command", part.get("command"))
            row.setdefault("date", part.get("date"))
        combined.setdefault("methods", {}).update(part["methods"])
    combined.pop("command", None)
    for key in ("machine", "cpu_count", "python", "platform", "date"):  # save() writes this machine's again
        combined.pop(key, None)
    combined["merged_from"] = [p.name for p in paths]
    save("pretext-cpu", combined, out)


if __name__ == "__main__":
    main()
