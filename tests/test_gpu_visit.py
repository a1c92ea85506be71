"""The GPU visit rehearsed on the CPU (benchmarks/gpu_visit.sh, gpu_visit.py, gpu_preflight.py) and
`mimtax verify --dry-run`: plan printed before the run, results complete, a killed visit keeps what it finished,
the plan sized from measured costs, a dry run that writes outside the package's report folder."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import ROOT

BENCH = ROOT / "benchmarks"


def _visit_module():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("gpu_visit", BENCH / "gpu_visit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _costs(compile_s: float = 40.0) -> dict:
    """Measured costs as stage 1 records them (made up here: the plan's arithmetic is under test)."""
    methods = {name: {"eager_step_s": 0.03, "step_s": 0.01 if name in ("mae", "data2vec") else 0.03,
                      "compiled": name in ("mae", "data2vec"), "overhead_s": 1.0,
                      **({"compile_s": compile_s} if name in ("mae", "data2vec") else {})}
               for name in ("mae", "data2vec", "simmim", "ibot")}
    return {"methods": methods, "per_arm_s": 3.0, "fixed_s": 2.0}


def _plan(tmp_path, budget_s: float, compile_s: float = 40.0) -> dict:
    from reference_impls.verify import SCALES

    visit_module = _visit_module()
    visit = visit_module.Visit(tmp_path, budget_s)
    rows = [("mae", "vit-t/4@32", {}, 512, 30), ("mae", "vit-t/4@32", {"encode_all": True}, 512, 30),
            ("mae", "vit-s/16@224", {}, 256, 30)]
    return visit_module.make_plan(visit, _costs(compile_s), ["mae", "data2vec", "simmim", "ibot"],
                                  ["mae", "data2vec"], 8, SCALES["gpu"], rows)


def test_the_plan_is_sized_from_the_measured_costs_and_fits_the_budget(tmp_path, capsys):
    roomy, tight = _plan(tmp_path, 480.0), _plan(tmp_path, 240.0)
    steps = lambda plan, stage: {r["method"]: r["steps"] for r in plan["rows"] if r["stage"] == stage}  # noqa: E731
    assert roomy["fits"] and roomy["total_s"] <= roomy["budget_left_s"]
    assert all(steps(roomy, "learned")[m] > steps(tight, "learned")[m] for m in ("mae", "simmim"))
    assert steps(roomy, "learned")["mae"] > steps(roomy, "learned")["simmim"]  # a cheaper step buys more steps
    assert all(r["seeds"] == 8 for r in roomy["rows"] if r["stage"] == "helped")
    assert [r["config"] for r in roomy["rows"] if r["stage"] == "throughput"] == [
        "vit-t/4@32", "vit-t/4@32", "vit-s/16@224"]  # the first row reuses stage 1's compilation: it costs ~0
    assert roomy["rows"][0]["estimate_s"] < 5 and not roomy["not_planned"]
    assert all(r["compile"] for r in roomy["rows"] if r["stage"] == "throughput")
    # two more compilations do not fit beside the least of the rest: those rows are measured eager, MAE's
    # 32 px row too, so that the visible-only speed-up compares like with like
    slow = _plan(tmp_path, 240.0, compile_s=150.0)
    eager = [(r["config"], bool(r.get("encode_all"))) for r in slow["rows"]
             if r["stage"] == "throughput" and not r["compile"]]
    assert eager == [("vit-t/4@32", False), ("vit-t/4@32", True), ("vit-s/16@224", False)]
    assert slow["fits"] and not slow["not_planned"]
    # not even eager: not planned, and the printed plan says so
    short = _plan(tmp_path, 130.0, compile_s=150.0)
    assert len(short["not_planned"]) == 3 and [r["stage"] for r in short["rows"]].count("throughput") == 1
    assert "not planned: throughput mae vit-s/16@224" in capsys.readouterr().out


@pytest.mark.slow
def test_the_rehearsal_prints_its_plan_first_and_brings_back_every_result(tmp_path):
    """The one command of the visit, at dry-run size on the CPU: preflight, plan printed before any stage
    runs, every stage's rows in visit.json, verify's summary in the archive, at most 8 files, no CLI."""
    out = tmp_path / "visit"
    result = subprocess.run(["bash", str(BENCH / "gpu_visit.sh"), str(out), "--dry-run", "--device", "cpu",
                             "--methods", "mae,ibot"], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    first_result = next(i for i, line in enumerate(lines) if line.startswith(("throughput ", "learned ")))
    plan_at = next(i for i, line in enumerate(lines) if line.startswith("plan ("))
    assert lines[0] == "== preflight" and lines[1].startswith("preflight ok") and plan_at < first_result
    assert sorted(p.name for p in out.iterdir()) == ["environment.txt", "preflight.json", "verification.tar.gz",
                                                     "visit.json", "visit.log"]
    visit = json.loads((out / "visit.json").read_text(encoding="utf-8"))
    assert visit["complete"] and not visit["not_run"] and visit["cli_imported"] is False
    assert set(visit["measured"]) == {"mae", "data2vec", "ibot", "evaluation"}
    assert [(r["method"], r["config"]["image"], bool(r.get("encode_all"))) for r in visit["throughput"]] == [
        ("mae", 32, False), ("mae", 32, True), ("mae", 224, False)]
    assert all(r["images_per_s"] > 0 for r in visit["throughput"])
    assert [r["method"] for r in visit["learned"]] == ["mae", "data2vec", "ibot"]
    for row in visit["learned"]:  # before and after beside the trivial predictor, or why not
        assert row["heldout_loss_before"] > 0 and row["pretext"]
    assert [r["method"] for r in visit["helped"]["rows"]] == ["mae", "data2vec"]
    assert all(r["verdict"] == "no verdict" for r in visit["helped"]["rows"])  # a dry run never gives one
    planned = [(r["stage"], r["method"]) for r in visit["plan"]["rows"]]
    assert planned[:2] == [("throughput", "mae"), ("learned", "mae")] and ("helped", "data2vec") in planned
    with tarfile.open(out / "verification.tar.gz") as archive:
        summary = json.load(archive.extractfile("verification/summary.json"))
    assert summary["complete"] and summary["planned"] == ["mae", "data2vec"] and len(summary["methods"]) == 2


@pytest.mark.slow
def test_a_visit_killed_mid_way_keeps_what_it_finished(tmp_path):
    out = tmp_path / "visit"
    visit = subprocess.Popen([sys.executable, str(BENCH / "gpu_visit.py"), str(out), "--device", "cpu", "--dry-run",
                              "--methods", "mae,simmim", "--helped", "mae"], stdout=subprocess.PIPE, text=True,
                             cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"})
    for line in visit.stdout:
        if line.startswith("learned mae"):
            visit.send_signal(signal.SIGTERM)  # what `timeout` sends at the hard limit
            break
    visit.wait(timeout=60)
    saved = json.loads((out / "visit.json").read_text(encoding="utf-8"))
    assert visit.returncode != 0 and not saved["complete"]
    assert saved["plan"]["rows"] and [r["method"] for r in saved["learned"]] == ["mae"]
    assert len(saved["throughput"]) == 1 and saved["helped"] is None


def test_the_preflight_stops_in_one_line_when_there_is_no_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    result = subprocess.run([sys.executable, str(BENCH / "gpu_preflight.py"), "--device", "cuda", "--out",
                             str(tmp_path / "p.json")], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"preflight failed: no CUDA device visible to torch {torch.__version__} "
                                     f"(CUDA build {torch.version.cuda})")
    assert not (tmp_path / "p.json").exists()


def test_verify_dry_run_writes_under_runs_verify_not_the_report_folder(tmp_path):
    """By default a dry run is one seed and lands in ./runs/verify, never in reports/verification/."""
    from tests.conftest import run_cli

    result = run_cli("verify", "--dry-run", "--device", "cpu", "--methods", "mae", cwd=tmp_path, OMP_NUM_THREADS="1")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "runs" / "verify" / "summary.json").read_text(encoding="utf-8"))
    assert summary["scale"] == "dry run" and summary["methods"][0]["results"]["seeds"] == 1
    assert not (tmp_path / "reports").exists()
    assert "wrote runs/verify/summary.md" in result.stdout.replace("\n", "")
