"""The explore job: `mimtax categories`, `query`, `place`, `audit` and `leaderboard`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from taxonomy.cli._common import CorpusOption, ForceOption, _allow_replacing, _check_format, _emit, _table, console
from taxonomy.errors import UserError


def categories(
    taxonomy: str = typer.Option("awesome-mim", help="awesome-mim | mim-survey."),
    corpus: Optional[Path] = CorpusOption,
) -> None:
    """The taxonomy as an indented tree with paper counts (and survey B's aspects)."""
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.corpus.stats import compute_node_counts

    c = load_corpus(corpus)
    tax = c.taxonomy(taxonomy)
    counts = compute_node_counts(c, tax.id)
    console.print(f"[bold]{tax.name}[/bold] ({tax.id}): {len(tax.nodes)} nodes")
    for row in counts.itertuples(index=False):
        node = tax.nodes[row.node]
        aspects = f"  [dim]aspects: {', '.join(node.aspects)}[/dim]" if node.aspects and len(node.aspects) > 1 else ""
        console.print(f"{'  ' * (row.depth + 1)}{row.name} [dim]({row.node})[/dim]  {row.papers}{aspects}")


def query(
    category: Optional[str] = typer.Option(None, help="Node id, name or aspect (with descendants)."),
    taxonomy: Optional[str] = typer.Option(None, help="Restrict --category to awesome-mim or mim-survey."),
    target: Optional[str] = typer.Option(None, help="Recovery target facet, e.g. pixel, teacher-feature."),
    masking: Optional[str] = typer.Option(None, help="Masking facet, e.g. random, block-wise."),
    backbone: Optional[str] = typer.Option(None, help="Backbone facet, e.g. ViT, CNN."),
    modality: Optional[str] = typer.Option(None, help="Modality facet, e.g. image, video, point-cloud."),
    curated: bool = typer.Option(False, "--curated", help="Facet filters use curated values only (no inferred)."),
    include_unknown: bool = typer.Option(False, "--include-unknown",
                                         help="Facet filters also list papers whose facet is unknown."),
    year: Optional[str] = typer.Option(None, help="YEAR or FROM..TO, e.g. 2022..2024."),
    venue: Optional[str] = typer.Option(None, help="Venue (case-insensitive substring)."),
    has_code: Optional[bool] = typer.Option(None, "--has-code/--no-code", help="Only papers with (without) code."),
    has_impl: Optional[bool] = typer.Option(None, "--has-impl/--no-impl", help="Only papers with (without) a reference implementation."),
    search: Optional[str] = typer.Option(None, help="Free text: rank by semantic similarity."),
    abstracts: Optional[Path] = typer.Option(None, help="JSONL of abstracts for --search."),
    sort: Optional[str] = typer.Option(None, help="year | -year | title | method | venue | top1 | -top1 | score."),
    limit: Optional[int] = typer.Option(None, min=1, help="At most this many rows."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json | markdown."),
    corpus: Optional[Path] = CorpusOption,
) -> None:
    """Papers by category, facet, year, venue, code and text."""
    from taxonomy.explore.query import query as run_query

    _check_format(fmt)

    frame = run_query(corpus, taxonomy=taxonomy, category=category, target=target, masking=masking,
                      backbone=backbone, modality=modality, curated_only=curated, include_unknown=include_unknown,
                      year=year, venue=venue, has_code=has_code, has_impl=has_impl, search=search,
                      abstracts=abstracts, sort=sort, limit=limit)
    footer = _left_out_line(frame.attrs.get("left_out", {}), curated)
    if frame.empty:
        if fmt == "json":
            print("[]")
        elif fmt == "csv":
            sys.stdout.write(frame.to_csv(index=False, lineterminator="\n"))
        else:
            print("no paper matches these filters", file=sys.stderr)
        if footer:
            print(footer, file=sys.stderr)
        return
    if fmt == "table":
        frame = frame.drop(columns=["code_url", "target", "masking", "backbone", "modality", "inferred", "in_scope"])
        frame["year"] = frame["year"].astype("string").fillna("")
        frame["title"] = frame["title"].map(lambda t: t if len(t) <= 60 else t[:59] + "…")
    _emit(frame, fmt, f"{len(frame)} papers")
    if footer:  # on standard error, so a CSV or JSON on standard output stays whole
        print(footer, file=sys.stderr)


def _left_out_line(left_out: dict, curated: bool) -> str:
    """'12 papers with an unknown target were left out ...' ('' when none was)."""
    if not left_out.get("papers"):
        return ""
    n, outside = left_out["papers"], left_out["outside_masked_modelling"]
    which = " or ".join(left_out["facets"])
    kind = "no curated" if curated else "an unknown"
    return (f"{n} paper{'s' if n != 1 else ''} with {kind} {which} {'were' if n != 1 else 'was'} left out"
            + (f" ({outside} of them outside masked modelling)" if outside else "")
            + "; --include-unknown to list them")


def place(
    title: Optional[str] = typer.Option(None, help="Title of the new paper."),
    abstract: Optional[str] = typer.Option(None, help="Its abstract (better placement)."),
    file: Optional[Path] = typer.Option(None, help="JSONL of new papers (title, abstract)."),
    top: int = typer.Option(3, min=1, help="Candidate nodes per taxonomy level."),
    abstracts: Optional[Path] = typer.Option(None, help="JSONL of abstracts for the corpus papers."),
    fmt: str = typer.Option("table", "--format", help="table | json."),
    corpus: Optional[Path] = CorpusOption,
) -> None:
    """Where a new paper goes in both taxonomies: candidate nodes with calibrated scores, and nearest papers."""
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.corpus.text import read_abstracts
    from taxonomy.explore.place import Placer

    if bool(title) == bool(file):
        raise UserError("give either --title (with --abstract) or --file new.jsonl")
    if fmt not in ("table", "json"):
        raise UserError(f"--format '{fmt}': choose table or json")
    if file:
        rows = read_abstracts(file)
        titles = [str(r.get("title", "")) for r in rows]
        if not rows:
            raise UserError(f"{file}: holds no papers; expected one JSON object a line with a 'title'")
        if not all(titles):
            raise UserError(f"{file}: every line needs a 'title'")
        texts = [str(r.get("abstract", "") or "") for r in rows]
    else:
        titles, texts = [title], [abstract or ""]
    c = load_corpus(corpus)
    placer = Placer().fit(c, abstracts)
    candidates = placer.place(titles, texts, top)
    near = [placer.neighbours(placer.last_similarity_[i]) for i in range(len(titles))]
    if fmt == "json":
        import json

        out = [{"title": t, "candidates": candidates[candidates.paper == i].drop(columns=["paper", "title"]).to_dict("records"),
                "nearest": near[i].to_dict("records")} for i, t in enumerate(titles)]
        print(json.dumps(out, indent=1, ensure_ascii=False))
        return
    for i, t in enumerate(titles):
        console.print(f"[bold]{t}[/bold]")
        rows = candidates[candidates.paper == i].drop(columns=["paper", "title"])
        console.print(_table("candidate nodes (score = calibrated probability)", rows.astype(str), list(rows.columns)))
        console.print(_table("nearest papers in the corpus", near[i].astype(str), list(near[i].columns)))


def audit(
    taxonomy: str = typer.Option("awesome-mim", help="awesome-mim | mim-survey."),
    threshold: float = typer.Option(0.7, min=0.0, max=1.0, help="Report placements at least this confident."),
    abstracts: Optional[Path] = typer.Option(None, help="JSONL of abstracts for the corpus papers."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json | markdown."),
    corpus: Optional[Path] = CorpusOption,
) -> None:
    """Papers whose text places them confidently in another node than the survey's: candidates to review."""
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.explore.place import audit as run_audit

    _check_format(fmt)
    frame = run_audit(load_corpus(corpus), taxonomy, abstracts, threshold)
    if frame.empty:
        print(f"no paper is placed elsewhere with score >= {threshold}", file=sys.stderr)
        return
    _emit(frame, fmt, f"{len(frame)} papers to review ({taxonomy}, score >= {threshold})")


def leaderboard(
    taxonomy: Optional[str] = typer.Option(None, help="Taxonomy whose nodes group the results (default: awesome-mim)."),
    category: Optional[str] = typer.Option(None, help="Only this node (id, name or word) and what is under it."),
    benchmark: str = typer.Option("in1k-ft", help="in1k-ft | in1k-linear | in1k-knn | ade20k | coco-box | coco-mask "
                                  "| k400 | ssv2 | scanobjectnn | in256-fid | in256-uncond-fid | any dataset:metric "
                                  "the results hold."),
    backbone: Optional[str] = typer.Option(None, help="Only this backbone, e.g. ViT-B or ViT-B/16."),
    level: Optional[int] = typer.Option(None, min=0, help="Taxonomy depth to group by (default: the finest)."),
    plot: Optional[Path] = typer.Option(None, help="Also draw score against --x to this PNG (one backbone)."),
    x: str = typer.Option("year", help="year | epochs (for --plot)."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json | markdown."),
    mixed: bool = typer.Option(False, "--mixed", help="Rank a backbone's figures together across input resolutions, "
                               "evaluation protocols and extra data (default: like for like only)."),
    corpus: Optional[Path] = CorpusOption,
    force: bool = ForceOption,
) -> None:
    """Reported results ranked within each taxonomy node, like for like: same benchmark, backbone, resolution,
    protocol and extra-data class (--mixed: same backbone only)."""
    _allow_replacing(force)
    if plot is not None:
        from taxonomy.fsutil import check_outputs

        check_outputs([plot])
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.explore.leaderboard import compute_leaderboard, plot_leaderboard

    _check_format(fmt)
    from taxonomy.explore.leaderboard import MIXED

    frame = compute_leaderboard(load_corpus(corpus), taxonomy, category, benchmark, backbone, level, mixed)
    if frame.empty:
        print("no reported result matches", file=sys.stderr)
        return
    if plot is not None:
        from taxonomy.fsutil import write_output

        plot_leaderboard(frame, x)  # checks before writing anything
        write_output(plot, lambda fh: plot_leaderboard(frame, x, png=fh), "leaderboard")
    shown = frame.drop(columns=["source_url", "other_sources", "extra_data", "group"]) if fmt == "table" else frame
    title = (f"{len(frame)} results, ranked within node and backbone, MIXED: {MIXED} ranked together" if mixed else
             f"{len(frame)} results, ranked within node, backbone, resolution, protocol and extra data "
             "(--mixed ranks them together)")
    _emit(shown.astype({"year": "string", "pretrain_epochs": "string"}).fillna(""), fmt, title)
    if fmt != "table":  # the table says it in its title; other formats on stderr, their stdout stays data
        print(title, file=sys.stderr)
    if plot is not None:
        print(f"wrote {plot}", file=sys.stderr)
