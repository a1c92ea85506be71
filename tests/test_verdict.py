"""The verdict rule as statistics: its familywise error stays at or below 5 % under the least favourable null at
every seed noise level (simulated with the verdict's own functions), it has power, a clear gain is "helped", and
every baseline and the number of seeds matter."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from reference_impls.verdict import MIN_SEEDS, compare_method, holm, judge, paired_test, power, seeds_needed
from reference_impls.verdict_sim import rejection_rates

CLASSES = 10


def simulate(rng: np.random.Generator, accuracy: dict[str, float], seeds: int = 5, images: int = 1000,
             seed_sd: float = 0.01) -> dict[str, np.ndarray]:
    """Per-image 0/1 outcomes: each arm's accuracy plus a per-seed wobble (training noise)."""
    out = {}
    for arm, acc in accuracy.items():
        p = np.clip(acc + rng.normal(0, seed_sd, size=(seeds, 1)), 0, 1)
        out[arm] = (rng.random((seeds, images)) < p).astype(np.uint8)
    return out


@pytest.mark.parametrize("seed_sd", [1.0, 2.0, 4.0, 8.0])
def test_familywise_error_stays_at_most_5_percent_under_the_least_favourable_null(seed_sd):
    """8 methods, every true gain exactly at the +2 margin, the seeds a planned run of 8 uses: Holm calls any of
    them "helped" in at most 5 % of simulated runs (not significantly more, at 600 runs). The bootstrap this
    replaced gave 12 % at sd 4.3 and 17 % at 7.1."""
    from scipy import stats

    reps = 600
    rate = rejection_rates(np.random.default_rng(int(seed_sd * 10)), reps=reps, methods=8, seeds=seeds_needed(8),
                           gain=2.0, seed_sd=seed_sd)["familywise"]
    k = round(rate * reps)
    lower = stats.beta.ppf(0.05, k, reps - k + 1) if k else 0.0  # one-sided 95 % Clopper-Pearson lower bound
    assert lower <= 0.05 and rate <= 0.065, rate


def test_power_at_plus_5_points_is_what_the_plan_promises():
    """A true +5 points at per-seed sd 2, in a family of 8 at the seeds planned for it: the simulated share of
    methods called "helped" is near the planned 80 % (the test is not so conservative that it never passes)."""
    seeds = seeds_needed(8)
    assert power(seeds, 8) >= 0.8 > power(seeds - 1, 8)
    simulated = rejection_rates(np.random.default_rng(7), reps=150, methods=8, seeds=seeds, gain=5.0,
                                seed_sd=2.0)["per_method"]
    assert simulated >= 0.6, simulated


def test_more_seeds_are_planned_for_a_larger_family():
    assert MIN_SEEDS <= seeds_needed(1) <= seeds_needed(2) <= seeds_needed(8)
    assert seeds_needed(8) > seeds_needed(1)


def test_paired_test_counts_seed_and_image_noise_once():
    """The standard error matches the spread of the mean over repeated simulated runs, with little seed noise
    (image noise dominates) and with much (seed noise dominates)."""
    from reference_impls.verdict_sim import simulate_differences

    for sd in (0.5, 6.0):
        diff = simulate_differences(np.random.default_rng(3), 300, 1, 8, 1000, 2.0, sd)[:, 0].astype(float) * 100
        mean, se, df, _ = paired_test(diff, 2.0)
        assert 0.8 < np.sqrt(np.mean(se ** 2)) / mean.std() < 1.3 and np.all(df == 7)


def test_equal_arms_give_no_verdict_in_at_least_95_percent_of_draws():
    rng = np.random.default_rng(0)
    helped = 0
    for _ in range(200):
        arms = simulate(rng, {"pretrained": 0.40, "random_init": 0.40, "pixels": 0.30, "hog": 0.30})
        helped += compare_method("m", arms, CLASSES, min_effect=0.0).p_value <= 0.05
    assert helped <= 10  # at most 5 % false "helped", even with no minimum effect to hide behind


def test_a_clear_gain_is_helped_and_the_text_names_every_comparison():
    rng = np.random.default_rng(1)
    arms = simulate(rng, {"pretrained": 0.55, "random_init": 0.40, "pixels": 0.30, "hog": 0.35})
    result = judge({"mae": arms}, CLASSES)["mae"]
    assert result.verdict == "helped" and result.text.startswith("pretraining helped")
    assert "passed: random_init" in result.text and "pixels" in result.text and "chance" in result.text
    assert result.beats_handcrafted and "Handcrafted features: beaten" in result.text


def test_beating_handcrafted_features_is_a_separate_verdict():
    """Pretrained clears random init, pixels and chance but not HOG: "helped", and HOG not beaten (named)."""
    rng = np.random.default_rng(2)
    result = judge({"mae": simulate(rng, {"pretrained": 0.55, "random_init": 0.40, "pixels": 0.30, "hog": 0.60})},
                   CLASSES)["mae"]
    assert result.verdict == "helped" and not result.beats_handcrafted
    assert "Handcrafted features: not beaten" in result.text and "failed: hog" in result.text
    families = {c["baseline"]: c["family"] for c in result.as_dict()["comparisons"]}
    assert families == {"random_init": "helped", "pixels": "helped", "chance": "helped", "hog": "handcrafted"}


def test_a_gain_over_random_init_alone_is_not_enough():
    """The reported case: pretrained beats random init, but raw pixels beat both; the failure is named."""
    rng = np.random.default_rng(2)
    accuracy = {"pretrained": 0.30, "random_init": 0.20, "pixels": 0.40, "hog": 0.25}
    result = judge({"beit": simulate(rng, accuracy)}, CLASSES)["beit"]
    assert result.verdict == "no verdict" and "best arm: pixels" in result.text and "failed: pixels" in result.text


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
    tests = [compare_method(n, strong, CLASSES) for n in ("x", "y")]
    tests[0].p_value, tests[1].p_value = 0.04, 0.03
    holm(tests)  # 0.03 > 0.05 / 2 stops the procedure, so 0.04 (<= 0.05 alone) is not tested either
    assert [t.verdict for t in tests] == ["no verdict", "no verdict"]
    tests[0].p_value, tests[1].p_value = 0.04, 0.02
    holm(tests)
    assert [t.verdict for t in tests] == ["helped", "helped"]


def test_methods_not_run_count_in_the_holm_family():
    rng = np.random.default_rng(6)
    strong = simulate(rng, {"pretrained": 0.60, "random_init": 0.40, "pixels": 0.30, "hog": 0.30})
    alone = judge({"a": strong}, CLASSES)["a"]
    short = judge({"a": strong}, CLASSES, family=3)["a"]  # two more methods were planned but not run
    assert alone.level == pytest.approx(0.05) and short.level == pytest.approx(0.05 / 3)
    tests = [compare_method("x", strong, CLASSES)]
    tests[0].p_value = 0.02
    assert holm(tests)[0].verdict == "helped" and holm(tests, family=3)[0].verdict == "no verdict"


def _small_verify(monkeypatch, tmp_path, budget_minutes: float = 0.01, **patches):
    """`verify` at dry-run size but judged for real (2 seeds: never a verdict), with parts of it replaced. The
    budget is tiny, so each method that runs takes its fewest steps; whether it runs is `fits`'s to say."""
    from dataclasses import replace

    from reference_impls import verify as verify_module

    monkeypatch.setitem(verify_module.SCALES, "cpu", replace(verify_module.SCALES["dry"], label="test scale"))
    monkeypatch.setattr(verify_module, "fits", lambda *args: True)
    for name, value in patches.items():
        monkeypatch.setattr(verify_module, name, value)
    return verify_module.verify(["mae", "simmim"], budget_minutes, "cpu", seeds=2, out=tmp_path / "v", progress=False)


def test_verify_reports_the_methods_its_budget_cannot_fit(monkeypatch, tmp_path):
    import json

    calls = []
    # both steps are measured first (a cost of 0: any time left); then mae's fewest steps fit and simmim's do not
    summary = _small_verify(monkeypatch, tmp_path,
                            fits=lambda elapsed, cost, budget: cost == 0.0 or calls.append(cost) or len(calls) < 2)
    assert [r["method"] for r in summary["methods"]] == ["mae"] and summary["planned"] == ["mae", "simmim"]
    assert [n["method"] for n in summary["not_run"]] == ["simmim"] and "budget" in summary["not_run"][0]["reason"]
    assert summary["methods"][0]["verdict"]["holm_level"] == pytest.approx(0.05 / 2)
    saved = json.loads((tmp_path / "v" / "summary.json").read_text(encoding="utf-8"))
    assert saved["complete"] and saved["not_run"] == summary["not_run"]
    assert "Not run: simmim" in (tmp_path / "v" / "summary.md").read_text(encoding="utf-8")


def test_each_method_keeps_its_fewest_steps_and_later_ones_keep_theirs():
    """The budget's split: equal when every method costs the same; a cheap method before a dear one leaves the dear
    one at least its minimum, which an equal split of the rest did not (the 48-minute CPU run left AttMask 213 s of
    the 223 s its fewest steps needed)."""
    from reference_impls.verify import method_share

    assert method_share(600.0, 100.0, 2, 200.0) == pytest.approx(200.0)  # equal costs: a third each
    remaining, least, later = 500.0, 100.0, 300.0
    equal_split = remaining / 2
    assert remaining - equal_split < later  # the old rule: the later method would not fit
    share = method_share(remaining, least, 1, later)
    assert share >= least and remaining - share >= later
    assert method_share(50.0, 100.0, 3, 300.0) == pytest.approx(100.0)  # never below its own minimum
    assert method_share(1000.0, 100.0, 0, 0.0) == pytest.approx(1000.0)  # the last method takes what is left


def test_each_share_sets_aside_what_the_later_methods_were_measured_to_need(monkeypatch, tmp_path):
    """Every step is measured before any method runs: the first method's share leaves the second its fewest steps at
    the second's own step cost. Estimated from the methods measured so far (the first's cheap step), the 65-minute
    CPU run gave I-JEPA, measured before the multi-crop methods, 67 steps."""
    from reference_impls import verify as verify_module

    costs = {"mae": 0.5, "simmim": 5.0}  # seconds a step: the later method is ten times dearer
    monkeypatch.setattr(verify_module, "seconds_per_step",
                        lambda model, name, *args: (costs[name], 1.0, 0.0, 0.0))
    shares = []
    real_share = verify_module.method_share
    monkeypatch.setattr(verify_module, "method_share",
                        lambda remaining, least, left, later: shares.append(later) or real_share(remaining, least,
                                                                                                 left, later))
    _small_verify(monkeypatch, tmp_path)
    # 2 seeds x 2 fewest steps x 5 s of simmim's own steps, besides its evaluation
    assert shares[0] >= 2 * 2 * costs["simmim"] and shares[1] == 0.0


def test_a_method_that_declares_more_fewest_steps_gets_them_under_that_preset_only(monkeypatch, tmp_path):
    """MaskFeat learns its HOG target only after ~2,000 steps at ViT-micro: its registry entry says so for the
    `cpu` preset, and the planner gives it at least that many there, whatever the budget."""
    from dataclasses import replace

    import reference_impls

    assert reference_impls.method_info("maskfeat").steps_floor("cpu") == 2000
    assert reference_impls.method_info("maskfeat").steps_floor("gpu") == 0  # never measured there
    monkeypatch.setitem(reference_impls.METHODS, "mae",
                        replace(reference_impls.METHODS["mae"], fewest_steps=(("cpu", 7),)))
    summary = _small_verify(monkeypatch, tmp_path)
    assert {r["method"]: r["steps"] for r in summary["methods"]} == {"mae": 7, "simmim": 2}


def test_a_budget_spent_before_the_first_method_runs_none_and_says_why(monkeypatch, tmp_path):
    from reference_impls.verify import fits

    summary = _small_verify(monkeypatch, tmp_path, budget_minutes=0.001, fits=fits)  # 0.06 s: the real rule
    assert summary["methods"] == [] and [n["method"] for n in summary["not_run"]] == ["mae", "simmim"]
    assert all("before its step could be measured" in n["reason"] for n in summary["not_run"])
    assert "Not run: mae" in (tmp_path / "v" / "summary.md").read_text(encoding="utf-8")


def test_a_stopped_run_keeps_what_it_finished_and_is_judged_afterwards(monkeypatch, tmp_path):
    import json

    from reference_impls.runner import evaluate_seed
    from reference_impls.summary import judge_saved
    from tests.conftest import run_cli

    calls = []

    def stop_at_the_second_method(*args, **kwargs):  # 1 probe of the evaluation time, then 2 seeds of mae
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("stopped from outside")
        return evaluate_seed(*args, **kwargs)

    with pytest.raises(RuntimeError, match="stopped from outside"):
        _small_verify(monkeypatch, tmp_path, evaluate_seed=stop_at_the_second_method)
    folder = tmp_path / "v"
    saved = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert not saved["complete"] and [r["method"] for r in saved["methods"]] == ["mae"]
    assert not (folder / "summary.md").exists() and "verdict" not in saved["methods"][0]
    result = run_cli("verify", "--judge-only", "--out", str(folder))
    assert result.returncode == 0, result.stderr
    judged = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert judged["complete"] and judged["judged_from_saved_outcomes"]
    assert [n["method"] for n in judged["not_run"]] == ["simmim"] and "stopped" in judged["not_run"][0]["reason"]
    verdict = judged["methods"][0]["verdict"]
    assert verdict["holm_level"] == pytest.approx(0.05 / 2) and "needs at least 5" in verdict["text"]
    assert "mae: no verdict" in result.stdout and "simmim: not run" in result.stdout
    assert judge_saved(folder)["methods"][0]["verdict"] == verdict  # judging again changes nothing


@pytest.mark.parametrize("report, methods, not_run", [
    ("cpu", 8, []), ("cpu-ijepa", 1, []), ("cpu-42d5c41", 8, []), ("cpu-75f7047", 7, ["attmask"]),
    ("cpu-24min", 7, ["attmask"]), ("cpu-attmask", 1, []),
    ("cpu-demo", 2, []), ("cpu-demo-large", 2, [])])
def test_a_committed_cpu_report_is_judged_the_same_from_its_saved_outcomes(tmp_path, report, methods, not_run):
    """The verdicts in reports/verification/<report> follow from the per-image outcomes committed beside them."""
    import json
    import shutil

    from reference_impls.summary import judge_saved
    from tests.conftest import ROOT

    committed = ROOT / "reports" / "verification" / report
    shutil.copytree(committed, tmp_path / report)
    judged = judge_saved(tmp_path / report)
    original = json.loads((committed / "summary.json").read_text(encoding="utf-8"))
    assert [r["verdict"] for r in judged["methods"]] == [r["verdict"] for r in original["methods"]]
    assert len(judged["methods"]) == methods and [r["method"] for r in judged["not_run"]] == not_run


def test_judge_only_without_a_run_is_one_line(tmp_path):
    from tests.conftest import run_cli

    result = run_cli("verify", "--judge-only", "--out", str(tmp_path / "nothing"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "summary.json: not found" in result.stderr and len(result.stderr.strip().splitlines()) == 1


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


def test_throughput_stopped_from_outside_keeps_what_it_measured(tmp_path):
    """The visit's time limit kills the benchmark mid-way: the rows measured so far are on disk, the acceptance
    figures first (MAE at 32 px, visible-only and encoding every patch), marked incomplete."""
    import json
    import signal
    import subprocess

    from tests.conftest import ROOT

    out = tmp_path / "throughput.json"
    bench = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "bench_throughput.py"), "--device", "cpu",
                              "--steps", "1", "--batch-small", "2", "--batch-large", "1", "--methods", "mae,ibot",
                              "--out", str(out)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    measured = 0
    for line in bench.stdout:
        measured += line.startswith("measured ")
        if measured == 2:
            bench.send_signal(signal.SIGTERM)  # what `timeout` sends
            break
    bench.wait(timeout=60)
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert bench.returncode != 0 and not saved["complete"]
    assert [(r["method"], r["config"]["image"], bool(r.get("encode_all"))) for r in saved["rows"]] == [
        ("mae", 32, False), ("mae", 32, True)]


def test_throughput_past_its_deadline_lists_what_it_did_not_measure(tmp_path):
    import json
    import subprocess

    from tests.conftest import ROOT

    out = tmp_path / "throughput.json"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_throughput.py"), "--device", "cpu",
                             "--steps", "1", "--methods", "mae", "--deadline-s", "0", "--out", str(out)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert not saved["complete"] and not saved["rows"] and len(saved["not_measured"]) == 5
    assert "not measured (past --deadline-s 0)" in result.stdout


def test_the_cpu_demonstration_preset_runs_its_fixed_plan_on_constellations(monkeypatch, tmp_path):
    """`--preset cpu-demo` at toy size: its dataset, labels per class, fixed steps and default seeds are the
    preset's, whatever the budget, and its command says so (the real preset only differs in sizes)."""
    from dataclasses import replace

    from reference_impls import verify as verify_module

    demo = verify_module.SCALES["cpu-demo"]
    assert demo.data == "constellations" and not demo.eval.flips and demo.steps and demo.seeds >= 6
    toy = replace(demo, pool=256, test_per_class=3, eval=replace(demo.eval, probe_steps=3, finetune_steps=2),
                  ceiling_per_class=3, ceiling_steps=2, steps=3, calibration_steps=1, min_steps=2, heldout=16,
                  per_class=4, seeds=2)
    monkeypatch.setitem(verify_module.SCALES, "cpu-demo", toy)
    summary = verify_module.verify(["mae"], 30, "cpu", out=tmp_path / "d", progress=False, preset="cpu-demo")
    assert summary["data"]["name"] == "constellations" and summary["data"]["labels_per_class"] == 4
    assert summary["methods"][0]["steps"] == 3 and summary["methods"][0]["results"]["seeds"] == 2
    assert summary["command"].endswith("--preset cpu-demo") and summary["test_images"] == 30
    assert "`constellations`, 4 labels per class" in (tmp_path / "d" / "summary.md").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="unknown preset"):
        verify_module.verify(["mae"], 1, "cpu", out=tmp_path / "e", progress=False, preset="huge")
    from taxonomy.cli.verify import PRESETS

    assert set(PRESETS) == set(verify_module.SCALES)  # the CLI checks a preset before importing torch


def test_the_label_curve_names_the_primary_split_by_its_own_label_count():
    from reference_impls.runner import label_curve_lines

    arms = {"pretrained": {"finetune": {"mean": 15.5}, "finetune@1": {"mean": 10.1}, "finetune@10": {"mean": 11.0},
                           "finetune_lr": [5e-4]}}
    header, values = label_curve_lines(arms, "finetune", 100)[2], label_curve_lines(arms, "finetune", 100)[4]
    assert header.startswith("| arm | 1 | 10 | 100 |")  # the 100-label figure is not shown under "10"
    assert values.startswith("| pretrained | 10.1 | 11.0 | 15.5 |")
