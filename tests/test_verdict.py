"""The verdict rule as statistics: equal arms rarely give a verdict, a clear gain does, and every baseline and
the number of seeds matter."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from reference_impls.verdict import MIN_SEEDS, compare_method, holm, judge

CLASSES = 10


def simulate(rng: np.random.Generator, accuracy: dict[str, float], seeds: int = 5, images: int = 1000,
             seed_sd: float = 0.01) -> dict[str, np.ndarray]:
    """Per-image 0/1 outcomes: each arm's accuracy plus a per-seed wobble (training noise)."""
    out = {}
    for arm, acc in accuracy.items():
        p = np.clip(acc + rng.normal(0, seed_sd, size=(seeds, 1)), 0, 1)
        out[arm] = (rng.random((seeds, images)) < p).astype(np.uint8)
    return out


def test_equal_arms_give_no_verdict_in_at_least_95_percent_of_draws():
    rng = np.random.default_rng(0)
    helped = 0
    for _ in range(200):
        arms = simulate(rng, {"pretrained": 0.40, "random_init": 0.40, "pixels": 0.30, "hog": 0.30})
        helped += compare_method("m", arms, CLASSES, min_effect=0.0, n_boot=1000).p_value <= 0.05
    assert helped <= 10  # at most 5 % false "helped", even with no minimum effect to hide behind


def test_a_clear_gain_is_helped():
    rng = np.random.default_rng(1)
    arms = simulate(rng, {"pretrained": 0.55, "random_init": 0.40, "pixels": 0.30, "hog": 0.35})
    result = judge({"mae": arms}, CLASSES)["mae"]
    assert result.verdict == "helped" and "helped" in result.text


@pytest.mark.parametrize("loser", ["pixels", "hog"])
def test_a_gain_over_random_init_alone_is_not_enough(loser):
    """The reported case: pretrained beats random init, but raw pixels or handcrafted features beat both."""
    rng = np.random.default_rng(2)
    accuracy = {"pretrained": 0.30, "random_init": 0.20, "pixels": 0.25, "hog": 0.25}
    accuracy[loser] = 0.40
    result = judge({"beit": simulate(rng, accuracy)}, CLASSES)["beit"]
    assert result.verdict == "no verdict" and f"best arm: {loser}" in result.text


def test_near_chance_is_no_verdict_even_when_ahead():
    rng = np.random.default_rng(3)
    arms = simulate(rng, {"pretrained": 0.115, "random_init": 0.104, "pixels": 0.09, "hog": 0.09})
    assert judge({"beit": arms}, CLASSES)["beit"].verdict == "no verdict"


def test_too_few_seeds_never_give_a_verdict_even_with_zero_spread():
    """Identical accuracies across seeds (a zero std) used to turn any gap into 'helped'."""
    pre = np.zeros((MIN_SEEDS - 1, 1000), np.uint8)
    pre[:, :600] = 1
    base = np.zeros_like(pre)
    base[:, :100] = 1
    result = judge({"mae": {"pretrained": pre, "random_init": base, "pixels": base, "hog": base}}, CLASSES)["mae"]
    assert result.verdict == "no verdict" and "needs at least 5" in result.text


def test_test_set_noise_is_counted():
    """Same gap, same seeds: with 100 test images the interval is wider than with 5,000."""
    rng = np.random.default_rng(4)
    widths = []
    for images in (100, 5000):
        arms = simulate(rng, {"pretrained": 0.5, "random_init": 0.45, "pixels": 0.3, "hog": 0.3},
                        images=images, seed_sd=0.0)
        test = compare_method("m", arms, CLASSES)
        lo, hi = test.comparisons[0].interval(0.025)
        widths.append(hi - lo)
    assert widths[0] > 3 * widths[1]


def test_holm_controls_the_family_and_steps_down():
    rng = np.random.default_rng(5)
    strong = simulate(rng, {"pretrained": 0.60, "random_init": 0.40, "pixels": 0.30, "hog": 0.30})
    null = simulate(rng, {"pretrained": 0.40, "random_init": 0.40, "pixels": 0.30, "hog": 0.30})
    results = judge({"a": strong, "b": null, "c": null}, CLASSES)
    assert results["a"].verdict == "helped" and results["a"].level == pytest.approx(0.05 / 3)
    assert results["b"].verdict == results["c"].verdict == "no verdict"
    # a p-value that would pass alone fails when it ranks behind a failure
    tests = [compare_method(n, strong, CLASSES, n_boot=500) for n in ("x", "y")]
    tests[0].p_value, tests[1].p_value = 0.04, 0.03
    holm(tests)  # 0.03 > 0.05 / 2 stops the procedure, so 0.04 (<= 0.05 alone) is not tested either
    assert [t.verdict for t in tests] == ["no verdict", "no verdict"]
    tests[0].p_value, tests[1].p_value = 0.04, 0.02
    holm(tests)
    assert [t.verdict for t in tests] == ["helped", "helped"]


# --- the drivers: `mimtax verify --dry-run` and `mimtax run` argument checks ----------------------------------

def test_verify_dry_run_every_method_writes_a_summary_without_verdicts(tmp_path):
    import json

    from tests.conftest import run_cli

    out = tmp_path / "verification"
    result = run_cli("verify", "--dry-run", "--device", "cpu", "--seeds", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    from reference_impls import METHODS

    assert [row["method"] for row in summary["methods"]] == list(METHODS)
    for row in summary["methods"]:
        assert row["verdict"]["verdict"] == "no verdict" and "dry run" in row["verdict"]["text"]
        teacher = row["method"] in ("ibot", "attmask", "ijepa")  # evaluated as in the paper, student beside it
        assert set(row["results"]["arms"]) == {"pretrained", "random_init", "pixels", "hog"} | (
            {"pretrained_student"} if teacher else set())
        assert {c["baseline"] for c in row["verdict"]["comparisons"]} == {"random_init", "pixels", "hog", "chance"}
        for arm in row["results"]["arms"].values():  # the label curve, and a rate chosen on validation per seed
            assert {"linear_probe@1", "linear_probe", "knn@1", "knn", "finetune"} <= set(arm)
            assert len(arm["finetune_lr"]) == 2
        assert (out / row["method"] / "outcomes.npz").exists()
    assert 0 <= summary["supervised_ceiling"]["accuracy"] <= 100
    text = (out / "summary.md").read_text(encoding="utf-8")
    assert "Reproduce: `mimtax verify" in text and "helped" not in result.stdout
    assert "Supervised ceiling" in text and "Label efficiency" in text


@pytest.mark.parametrize("args, words", [
    (["run", "mae", "--device", "tpu"], "choose cpu or cuda"),
    (["verify", "--methods", "mae,maee", "--dry-run", "--device", "cpu"], "unknown method 'maee'"),
])
def test_run_and_verify_reject_bad_arguments_in_one_line(tmp_path, args, words):
    from tests.conftest import run_cli

    result = run_cli(*args, "--out", str(tmp_path / "o"))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("kwargs", [dict(seeds=0), dict(steps=0), dict(epochs=0.0)])
def test_run_experiment_rejects_zero_counts_before_any_work(tmp_path, kwargs):
    from reference_impls.runner import run_experiment

    with pytest.raises(ValueError, match="expected a number above 0"):
        run_experiment("mae", out=tmp_path / "o", **kwargs)
    assert not (tmp_path / "o").exists()


def test_run_into_an_unwritable_folder_is_one_line(tmp_path):
    from tests.conftest import run_cli

    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = run_cli("run", "mae", "--out", str(blocker / "run"))
    assert result.returncode == 1 and "not writable" in result.stderr and "Traceback" not in result.stderr


def test_hog_arm_sees_structure_not_colour():
    """The handcrafted arm: a disc with its colours swapped stays much closer than a cross in the same place."""
    import torch

    from reference_impls.data import render_shapes, shape_params
    from reference_impls.handcrafted import HOGFeatures

    p = shape_params(3, seed=7, labels=torch.tensor([0, 0, 4]))
    for key in ("cx", "cy", "r", "theta"):
        p[key][:] = p[key][0]
    p["fg"][1], p["bg"][1] = p["bg"][0], p["fg"][0]  # the same disc, colours swapped
    features = HOGFeatures(32, 3).pooled(render_shapes(p))
    same = (features[0] - features[1]).norm()
    other = (features[0] - features[2]).norm()
    assert same < 0.65 * other


def test_the_gpu_visit_script_rehearses_on_the_cpu(tmp_path):
    """The visit's one command, at dry-run size on the CPU: every stage runs, at most 8 files come back, and
    the throughput and the verification summary are there to commit."""
    import json
    import subprocess
    import tarfile

    from tests.conftest import ROOT

    out = tmp_path / "visit"
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_visit.sh"), str(out), "--dry-run", "--device",
                             "cpu"], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    files = sorted(p.name for p in out.iterdir())
    assert files == ["environment.txt", "throughput.json", "throughput.log", "verification.tar.gz", "verify.log"]
    rows = json.loads((out / "throughput.json").read_text())["rows"]
    assert {r["method"] for r in rows} == {"mae", "ibot", "simmim"} and all(r["images_per_s"] > 0 for r in rows)
    with tarfile.open(out / "verification.tar.gz") as archive:
        names = archive.getnames()
        summary = json.load(archive.extractfile("verification/summary.json"))
    assert "verification/summary.md" in names and len(summary["methods"]) == 8
