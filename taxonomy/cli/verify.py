"""The reference implementations: `mimtax run` (pretrain one method and judge it) and `verify` (every method within
a time budget, judged together)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from taxonomy.cli._common import ForceOption, _allow_replacing, _table, console
from taxonomy.errors import UsageError, UserError


def run(
    method: Optional[str] = typer.Argument(None, help="Method to run (see --list)."),
    data: str = typer.Option("shapes", help="shapes | constellations | constellations-large | glyphs | digits | "
                                            "imagefolder | cifar10 | cifar100."),
    data_path: Optional[Path] = typer.Option(None, help="Local folder for imagefolder / cifar10 / cifar100."),
    preset: str = typer.Option("smoke", help="smoke (CPU, seconds) | verify (GPU, the real check)."),
    epochs: Optional[float] = typer.Option(None, min=0.0, help="Pretraining epochs over the unlabelled pool."),
    steps: Optional[int] = typer.Option(None, min=1, help="Pretraining steps (overrides the preset and --epochs)."),
    device: str = typer.Option("cpu", help="cpu | cuda."),
    seeds: Optional[int] = typer.Option(None, min=1, help="Seeds (default: the preset's: smoke 3, verify 5)."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/METHOD-DATA-PRESET)."),
    list_methods: bool = typer.Option(False, "--list", help="List the methods and the papers they implement."),
    force: bool = ForceOption,
) -> None:
    """Pretrain a reference implementation and say, honestly, whether pretraining helped."""
    _allow_replacing(force)
    from reference_impls import METHODS

    if list_methods or method is None:
        import pandas as pd

        from taxonomy.corpus.folder import load_corpus

        papers = load_corpus().papers.set_index("id")
        rows = [dict(method=m.name, target=m.target, masking=m.masking,
                     papers=", ".join(f"{p} ({papers.loc[p, 'short_name'] or papers.loc[p, 'title'][:30]}, "
                                      f"{papers.loc[p, 'year']})" for p in m.papers if p in papers.index),
                     summary=m.summary) for m in METHODS.values()]
        frame = pd.DataFrame(rows)
        console.print(_table("Reference implementations", frame, list(frame.columns)))
        return
    if method not in METHODS:
        from difflib import get_close_matches

        close = get_close_matches(method, list(METHODS), n=1)
        raise UserError(f"unknown method '{method}'" + (f" (did you mean '{close[0]}'?)" if close else "")
                        + f"; available: {', '.join(METHODS)}")
    from reference_impls.runner import overall_verdict, run_experiment
    from taxonomy.fsutil import output_folder

    target = out or Path(f"runs/{method}-{data}-{preset}")
    from taxonomy.fsutil import check_outputs

    check_outputs(target / name for name in RUN_OUTPUTS)  # before any training
    try:
        with output_folder(target):
            report = run_experiment(method, data, preset, epochs, device, seeds, target,
                                    str(data_path) if data_path else None, steps)
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    if _other_rank():
        return
    console.print((target / "report.md").read_text(encoding="utf-8"))
    console.print(f"wrote {target}/" + ", ".join(name for name in sorted(RUN_OUTPUTS) if (target / name).exists()))
    console.print(f"[bold]verdict:[/bold] {overall_verdict(report)}")


# reference_impls.verify.SCALES (a test keeps the two the same)
PRESETS = ("gpu", "cpu", "dry", "cpu-demo", "cpu-demo-large")
RUN_OUTPUTS = ("checkpoint.safetensors", "reconstruction.png", "outcomes.npz", "report.json", "report.md")


def verify(
    methods: Optional[str] = typer.Option(None, help="Comma-separated methods (default: all eight)."),
    budget_minutes: float = typer.Option(8.0, min=0.0,
                                         help="Wall-clock budget for the whole run, compilation included."),
    device: str = typer.Option("cuda", help="cuda | cpu (cpu runs at reduced scale, labelled 'CPU scale')."),
    seeds: Optional[int] = typer.Option(None, min=1, help="Seeds per method (default 5; 1 with --dry-run)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Two steps per method on one seed at toy size: runs every "
                                                          "code path in well under a minute, never a verdict."),
    out: Path = typer.Option(Path("runs/verify"), help="Output folder (summary.md, summary.json); the committed "
                                                       "reports live in reports/verification/<device>."),
    preset: Optional[str] = typer.Option(None, help="gpu | cpu | dry | cpu-demo | cpu-demo-large (default: gpu on "
                                                    "cuda, cpu on cpu). cpu-demo: the two-hour CPU demonstration "
                                                    "(fixed steps, `constellations`, ViT-micro); cpu-demo-large: "
                                                    "the same on `constellations-large` (docs/verification.md)."),
    judge_only: bool = typer.Option(False, "--judge-only",
                                    help="Train nothing: judge the methods an earlier run under --out finished, from "
                                         "their saved outcomes (after a run that was stopped)."),
    force: bool = ForceOption,
) -> None:
    """Pretrain every method within a time budget and judge them together (Holm-corrected verdicts)."""
    from taxonomy.fsutil import check_outputs, output_folder

    _allow_replacing(force)
    if preset is not None and preset not in PRESETS:
        raise UsageError(f"--preset '{preset}': choose one of {', '.join(PRESETS)}")
    if not judge_only:  # --judge-only rewrites the summary of the run it judges
        check_outputs([out / "summary.json", out / "summary.md"])  # before any training

    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    try:
        if judge_only:
            from reference_impls.summary import judge_saved

            summary = judge_saved(out)
        else:
            from reference_impls.verify import verify as run_verify

            with output_folder(out):
                summary = run_verify(names, budget_minutes, device, seeds, dry_run, out, preset=preset)
    except (ValueError, KeyError) as exc:
        raise UserError(str(exc).strip("'\"")) from None
    if _other_rank():
        return
    for row in summary["methods"]:
        console.print(f"[bold]{row['method']}[/bold]: {row['verdict']['text']}")
    for item in summary["not_run"]:
        console.print(f"[bold]{item['method']}[/bold]: not run ({item['reason']})")
    console.print(f"wrote {out / 'summary.md'} and summary.json ({summary['scale']}, {summary['wall_s'] / 60:.1f} min)")


def _other_rank() -> bool:
    """Under torchrun, only rank 0 reports (every rank ran the same experiment)."""
    import os

    return int(os.environ.get("RANK", "0")) != 0
