"""The `mimtax` command line: a thin layer over the library API.

User mistakes raise UserError; `main` prints them in one line and exits 1 without a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from taxonomy.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="A living taxonomy of masked image modeling.")
corpus_app = typer.Typer(no_args_is_help=True, help="Inspect and validate a corpus.")
app.add_typer(corpus_app, name="corpus")
export_app = typer.Typer(no_args_is_help=True, help="Figures and tables for a survey.")
app.add_typer(export_app, name="export")


def _print_version(value: bool) -> None:
    if value:
        from taxonomy import __version__

        print(f"mimtax {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")) -> None:
    """A living taxonomy of masked image modeling."""


def _reader_left() -> None:
    """The reader of a pipe left (`mimtax categories | head -1`): that is not an error. Standard output goes to
    /dev/null so the interpreter's final flush does not fail again, and the command ends with success."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Rich's own handling would exit 1."""
        _reader_left()


console = _Console() if sys.stdout.isatty() else _Console(width=200)

CorpusOption = typer.Option(None, "--corpus", help="Corpus folder (papers.csv + taxonomies/); default: shipped data.")


def _table(title: str, frame, columns: list[str]) -> Table:
    table = Table(title=title, show_edge=False, title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if frame[col].dtype.kind in "iuf" else "left")
    for row in frame[columns].itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    return table


@corpus_app.command("info")
def corpus_info(corpus: Optional[Path] = CorpusOption, top: int = typer.Option(15, min=1, help="Venues to list.")) -> None:
    """Counts per taxonomy node, year and venue."""
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.corpus.stats import compute_counts, compute_node_counts, compute_summary

    c = load_corpus(corpus)
    summary = compute_summary(c)
    console.print(f"[bold]{c.path}[/bold]: {summary['papers']} papers, {summary['arxiv_ids']} with an arXiv id, "
                  f"{summary['results']} reported results")
    from taxonomy.corpus.facets import compute_facets, coverage, in_lists

    facets = compute_facets(c)
    cover = coverage(c, facets)
    console.print("papers carrying each facet, curated (from a source) + inferred (from the text by rules): "
                  + ", ".join(f"{r.facet} {r.papers} ({r.curated} curated, {r.curated_share:.0%})"
                              for r in cover.itertuples()))
    listed = set(c.papers["id"][in_lists(c)])
    if listed:
        inside = facets[facets["id"].isin(listed) & (facets["value"] != "")]
        console.print(f"of the {len(listed)} papers in survey A's fundamental methods or survey B's list: "
                      + ", ".join(f"{f} {int((inside['facet'] == f).sum())}" for f in cover["facet"])
                      + " carry a value; curated-only filters: `mimtax query --curated`")
    if c.corrections:
        console.print(f"{len(c.corrections)} correction(s) from corrections.yaml applied: " + "; ".join(c.corrections))
    for tax in c.taxonomies.values():
        counts = compute_node_counts(c, tax.id)
        counts["node"] = ["  " * d + n for d, n in zip(counts["depth"], counts["name"])]
        labelled = summary[f"labelled_{tax.label_column}"]
        console.print(_table(f"{tax.name}: {labelled} labelled papers, {len(tax.nodes)} nodes", counts,
                             ["node", "papers"]))
    years = compute_counts(c, "year").sort_values("year", kind="stable")
    console.print(_table("Papers per year", years, ["year", "papers"]))
    console.print(_table(f"Top {top} venues", compute_counts(c, "venue").head(top), ["venue", "papers"]))


@corpus_app.command("validate")
def corpus_validate(path: Optional[Path] = typer.Argument(None, help="Corpus folder or papers.csv.")) -> None:
    """Report every problem as file:line: column: message; exit 1 if there is any."""
    from taxonomy.corpus.folder import default_data_dir, validate

    target = path or default_data_dir()
    problems = validate(target)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {target}", file=sys.stderr)
        raise typer.Exit(1)
    from taxonomy.corpus.folder import load_corpus
    c = load_corpus(target)
    print(f"{target}: OK: {len(c)} papers, {len(c.taxonomies)} taxonomies, {len(c.results)} results, 0 problems")


@corpus_app.command("import")
def corpus_import(
    files: list[Path] = typer.Argument(..., help="BibTeX, RIS, CSL-JSON, CSV/TSV, JSONL or awesome-list Markdown files."),
    out: Path = typer.Option(..., "--out", help="Corpus folder to write (papers.csv, taxonomies/, store/)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="bibtex | ris | csl-json | csv | tsv | jsonl | markdown "
                                                             "(default: from each file's extension)."),
    mapping: list[str] = typer.Option([], "--map", help="FIELD=COLUMN for CSV/TSV/JSONL, e.g. --map title=Name."),
    taxonomy_from_headings: bool = typer.Option(False, "--taxonomy-from-headings",
                                                help="Make a taxonomy from the lists' headings (or labels column)."),
    taxonomy_id: str = typer.Option("headings", help="Id of that taxonomy (its label column is the id with '_')."),
    force: bool = typer.Option(False, "--force", help="Replace --out if it already holds files."),
) -> None:
    """Build a corpus from your paper lists, merging duplicates on DOI, arXiv id and title."""
    from taxonomy.corpus.importer import import_corpus, write_corpus

    pairs = {}
    for item in mapping:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise UserError(f"--map '{item}': expected FIELD=COLUMN, e.g. title=Title")
        pairs[field.strip()] = column.strip()
    imported = import_corpus(files, fmt, pairs, taxonomy_from_headings, taxonomy_id)
    write_corpus(imported, out, force)
    for source in imported.sources:
        console.print(f"{source.path}: {len(source.records)} entries ({source.format})")
    tax = imported.taxonomy
    console.print(f"{len(imported.papers)} papers after merging {len(imported.report)} duplicate entries "
                  f"(see {out / 'import-report.csv'}); {len(imported.abstracts)} with an abstract")
    if tax is not None:
        console.print(f"taxonomy '{tax['id']}' from headings: {len(tax['nodes'])} top-level nodes, "
                      f"{len(tax['levels'])} levels")
    conflicts = int((imported.papers["corrections"] != "").sum())
    if conflicts:
        console.print(f"[yellow]{conflicts} paper(s) share an identifier with a different title; see the "
                      "corrections column[/yellow]")
    console.print(f"wrote {out}; use it with --corpus {out}")


@app.command()
def enrich(
    corpus: Optional[Path] = CorpusOption,
    source: str = typer.Option("openalex", help="arxiv | openalex | semanticscholar."),
    batch_size: Optional[int] = typer.Option(None, help="Papers per request batch (default: the service's)."),
    limit: Optional[int] = typer.Option(None, help="Ask about at most this many papers."),
    retry_missing: bool = typer.Option(False, "--retry-missing", help="Ask again about papers this source did not find."),
    store: Optional[Path] = typer.Option(None, help="Store file (default: <corpus>/store/abstracts.sqlite)."),
) -> None:
    """Fetch missing abstracts and arXiv ids into the corpus's local store (the only command that uses the network).

    Keys: OPENALEX_API_KEY / OPENALEX_MAILTO, SEMANTIC_SCHOLAR_API_KEY (or S2_API_KEY). Interrupted runs resume."""
    from taxonomy.corpus.enrich import enrich as run_enrich

    summary = run_enrich(corpus, source, store, batch_size, limit, retry_missing)
    console.print(f"{summary.source}: asked about {summary.asked} papers in {summary.requests} requests; "
                  f"{summary.abstracts_found} abstracts and {summary.arxiv_ids_found} new arXiv ids found; "
                  f"{summary.already_done} already done; store: {summary.store}")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@app.command()
def dendrogram(
    corpus: Optional[Path] = CorpusOption,
    abstracts: Optional[Path] = typer.Option(None, help="JSONL of abstracts, matched on id, then arXiv id, then title."),
    embedding: str = typer.Option("minilm", help="minilm | tfidf | lsa | a sentence-transformers model on disk."),
    linkage: str = typer.Option("auto", help="auto | consensus | ward | average | complete."),
    taxonomy: Optional[str] = typer.Option(None, help="Taxonomy that colours the picture and guides --guided "
                                                       "(default: awesome-mim, else the corpus's first)."),
    guided: bool = typer.Option(False, "--guided", help="Also build the taxonomy-guided tree (guided_* files) and score "
                                                       "what it learns inside each node."),
    out: Path = typer.Option(Path("out"), help="Output folder."),
    no_pictures: bool = typer.Option(False, "--no-pictures", help="Skip the PNG/SVG pictures."),
    cache: Optional[Path] = typer.Option(None, help="Embedding cache folder (default ~/.cache/mimtax)."),
    previous: Optional[Path] = typer.Option(None, help="An earlier run's clusters.csv whose cluster ids carry over "
                                                       "(default: the one in --out, if an earlier run wrote it)."),
    audit: bool = typer.Option(False, "--audit", help="Also run `mimtax audit` and show its flags in "
                                                      "dendrogram.html's paper panel (a few seconds more)."),
    collapse_above: int = typer.Option(60, min=1, help="dendrogram.html: a subtree with more papers than this "
                                                       "opens collapsed (keeps huge trees responsive)."),
    shards: Optional[Path] = typer.Option(None, help="Build the tree of a whole field from `mimtax embed` shards "
                                                     "(memory-mapped): field-linkage.npy, field-clusters.csv."),
    k: list[int] = typer.Option([10, 30, 100], "--k", min=1, help="With --shards: cluster counts to cut at."),
) -> None:
    """Embed, cluster, name and score the corpus; write the tree, pictures and report to --out."""
    import time

    if shards is not None:
        if corpus is not None or abstracts is not None or guided or audit:
            raise typer.BadParameter("--shards builds the field tree from the shards alone; drop --corpus, "
                                     "--abstracts, --guided and --audit", param_hint="--shards")
        from taxonomy.scale.field import write_field_tree

        start = time.perf_counter()
        facts = write_field_tree(shards, out, tuple(k))
        console.print(f"{facts['n']} records from {shards} ({facts['model']}); {facts['method']} in "
                      f"{facts['seconds']:.1f} s; wrote field-linkage.npy, field-clusters.csv, field.json to {out} "
                      f"in {time.perf_counter() - start:.1f} s")
        return

    import signal

    from taxonomy.fsutil import output_folder
    from taxonomy.render.painter import Painter

    # SIGTERM unwinds like Ctrl-C, so the staging and drawing folders are removed on the way out
    signal.signal(signal.SIGTERM, _interrupt)
    start = time.perf_counter()
    if cache is not None and cache.exists() and not cache.is_dir():
        raise UserError(f"--cache {cache}: is a file; give a folder for the embedding cache")
    with output_folder(out):
        painter = None
        try:
            painter = None if no_pictures else Painter.start(out)  # forks now, before the heavy imports
            from taxonomy.clustering.dendrogram import build_dendrogram
            from taxonomy.render.export import score_table, write_outputs

            result = build_dendrogram(corpus, abstracts=abstracts, embedding=embedding, linkage=linkage,
                                      taxonomy=taxonomy, guided=guided, cache_dir=cache, audit=audit,
                                      on_tree=(lambda r: painter.draw("tree", r)) if painter else None,
                                      on_curves=(lambda r: painter.draw("scores", r)) if painter else None)
            written = write_outputs(result, out, pictures=not no_pictures, painter=painter,
                                    previous_clusters=previous, collapse_above=collapse_above)
        finally:
            if painter is not None:
                painter.close()
    for line in result.abstract_conflicts:
        print(f"warning: {line}", file=sys.stderr)
    table = score_table(result)
    table = table[table["metric"] == "ami"].drop(columns=["metric"])
    for col in table.columns:
        if table[col].dtype.kind == "f":
            table[col] = table[col].map(lambda v: f"{v:.3f}")
    console.print(f"{result.n} papers ({result.n_with_abstract} with an abstract); "
                  f"embedded {result.cache_stats.get('embedded', 0)}, from cache {result.cache_stats.get('cached', 0)}")
    if table.empty:
        console.print("this corpus has no taxonomy: the tree is not scored (import with --taxonomy-from-headings)")
    else:
        console.print(_table("AMI against the survey taxonomies", table, list(table.columns)))
    if result.guided_agreement is not None and not result.guided_agreement.empty:
        guided = result.guided_agreement
        guided = guided[guided["metric"] == "ami"].drop(columns=["metric"])
        for col in ("guided", "inside_random", "unguided"):
            guided[col] = guided[col].map(lambda v: f"{v:.3f}")
        console.print(_table("Guided tree: AMI of each level learned inside the given levels above it", guided,
                             list(guided.columns)))
    if not result.cluster_changes.empty:
        from taxonomy.render.export import change_summary

        summary = change_summary(result)
        console.print("cluster ids kept from the previous run: " + ", ".join(
            f"k={r.k} {r.kept + r.changed}/{r.kept + r.changed + r.vanished}" for r in summary.itertuples())
            + " (see cluster-changes.csv)")
    console.print(f"wrote {len(written)} files to {out} in {time.perf_counter() - start:.1f} s")


@app.command()
def embed(
    source: Path = typer.Argument(..., help="Records to embed: .jsonl, .parquet or .csv with `id` and `text`, "
                                            "or `title` (+ `abstract`)."),
    out: Path = typer.Option(..., help="Shard folder (created; shards already there are kept and skipped)."),
    engine: str = typer.Option("local", help="local (this process) | ray (an actor pool on a local or running "
                                             "Ray cluster)."),
    shard: Optional[str] = typer.Option(None, help="i/N: only every N-th shard from the i-th (a Slurm array task: "
                                                   "--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)."),
    shard_size: int = typer.Option(1024, help="Records per shard."),
    workers: Optional[int] = typer.Option(None, min=1, help="Ray actors (default: one per GPU, else one per CPU)."),
    ray_address: Optional[str] = typer.Option(None, help="Ray cluster to join ('auto' on a cluster node); "
                                                         "default: start a local one."),
    device: str = typer.Option("cpu", help="cpu | cuda."),
    embedding: str = typer.Option("minilm", help="minilm or a sentence-transformers model on disk."),
) -> None:
    """Embed a corpus of any size into content-addressed, resumable float16 shards."""
    from taxonomy.scale import embed_records, parse_shard_spec

    try:
        part = parse_shard_spec(shard)
    except UserError as exc:
        raise typer.BadParameter(str(exc).split(": ", 1)[1], param_hint="--shard") from None
    summary = embed_records(source, out, embedding, engine=engine, shard_size=shard_size, shard=part,
                            workers=workers, device=device, ray_address=ray_address)
    console.print(f"{summary.records} records in {summary.shards} shards: {summary.computed} embedded now, "
                  f"{summary.skipped} already there" + (f", {summary.others} left to other tasks" if summary.others
                                                         else "") + f"; {out}/plan.json")


@app.command()
def run(
    method: Optional[str] = typer.Argument(None, help="Method to run (see --list)."),
    data: str = typer.Option("shapes", help="shapes | digits | imagefolder | cifar10 | cifar100."),
    data_path: Optional[Path] = typer.Option(None, help="Local folder for imagefolder / cifar10 / cifar100."),
    preset: str = typer.Option("smoke", help="smoke (CPU, seconds) | verify (GPU, the real check)."),
    epochs: Optional[float] = typer.Option(None, min=0.0, help="Pretraining epochs over the unlabelled pool."),
    steps: Optional[int] = typer.Option(None, min=1, help="Pretraining steps (overrides the preset and --epochs)."),
    device: str = typer.Option("cpu", help="cpu | cuda."),
    seeds: Optional[int] = typer.Option(None, min=1, help="Seeds (default: the preset's: smoke 3, verify 5)."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/METHOD-DATA-PRESET)."),
    list_methods: bool = typer.Option(False, "--list", help="List the methods and the papers they implement."),
) -> None:
    """Pretrain a reference implementation and say, honestly, whether pretraining helped."""
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
    try:
        with output_folder(target):
            report = run_experiment(method, data, preset, epochs, device, seeds, target,
                                    str(data_path) if data_path else None, steps)
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    if _other_rank():
        return
    console.print((target / "report.md").read_text(encoding="utf-8"))
    console.print(f"wrote {target}/report.json, report.md" + (", reconstruction.png" if (target / "reconstruction.png").exists() else "")
                  + ", checkpoint.safetensors")
    console.print(f"[bold]verdict:[/bold] {overall_verdict(report)}")


@app.command()
def verify(
    methods: Optional[str] = typer.Option(None, help="Comma-separated methods (default: all eight)."),
    budget_minutes: float = typer.Option(8.0, min=0.0,
                                         help="Wall-clock budget for the whole run, compilation included."),
    device: str = typer.Option("cuda", help="cuda | cpu (cpu runs at reduced scale, labelled 'CPU scale')."),
    seeds: int = typer.Option(5, min=1, help="Seeds per method (a verdict needs at least 5)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="A few steps per method: checks the plumbing, no verdict."),
    out: Path = typer.Option(Path("reports/verification"), help="Output folder (summary.md, summary.json)."),
    judge_only: bool = typer.Option(False, "--judge-only",
                                    help="Train nothing: judge the methods an earlier run under --out finished, from "
                                         "their saved outcomes (after a run that was stopped)."),
) -> None:
    """Pretrain every method within a time budget and judge them together (Holm-corrected verdicts)."""
    from taxonomy.fsutil import output_folder

    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    try:
        if judge_only:
            from reference_impls.summary import judge_saved

            summary = judge_saved(out)
        else:
            from reference_impls.verify import verify as run_verify

            with output_folder(out):
                summary = run_verify(names, budget_minutes, device, seeds, dry_run, out)
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


FORMATS = ("table", "csv", "json", "markdown")


def _check_format(fmt: str) -> None:
    """Before any work: an unknown --format should not cost a whole computation."""
    if fmt not in FORMATS:
        raise UserError(f"--format '{fmt}': choose table, csv, json or markdown")


def _emit(frame, fmt: str, title: str) -> None:
    """Print a DataFrame as a table, CSV, JSON or Markdown."""
    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False, lineterminator="\n"))
    elif fmt == "json":
        import json

        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        sys.stdout.write(json.dumps(records, indent=1, ensure_ascii=False, default=str) + "\n")
    elif fmt == "markdown":
        cols = list(frame.columns)
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in frame.itertuples(index=False)]
        sys.stdout.write("\n".join(lines) + "\n")
    elif fmt == "table":
        console.print(_table(title, frame.astype(str), list(frame.columns)))
    else:
        raise UserError(f"--format '{fmt}': choose table, csv, json or markdown")


@app.command()
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


@app.command()
def query(
    category: Optional[str] = typer.Option(None, help="Node id, name or aspect (with descendants)."),
    taxonomy: Optional[str] = typer.Option(None, help="Restrict --category to awesome-mim or mim-survey."),
    target: Optional[str] = typer.Option(None, help="Recovery target facet, e.g. pixel, teacher-feature."),
    masking: Optional[str] = typer.Option(None, help="Masking facet, e.g. random, block-wise."),
    backbone: Optional[str] = typer.Option(None, help="Backbone facet, e.g. ViT, CNN."),
    modality: Optional[str] = typer.Option(None, help="Modality facet, e.g. image, video, point-cloud."),
    curated: bool = typer.Option(False, "--curated", help="Facet filters use curated values only (no inferred)."),
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
                      backbone=backbone, modality=modality, curated_only=curated, year=year, venue=venue,
                      has_code=has_code, has_impl=has_impl, search=search, abstracts=abstracts, sort=sort, limit=limit)
    if frame.empty:
        if fmt == "json":
            print("[]")
        elif fmt == "csv":
            sys.stdout.write(frame.to_csv(index=False, lineterminator="\n"))
        else:
            print("no paper matches these filters", file=sys.stderr)
        return
    if fmt == "table":
        frame = frame.drop(columns=["code_url", "target", "masking", "backbone", "modality", "inferred"])
        frame["year"] = frame["year"].astype("string").fillna("")
        frame["title"] = frame["title"].map(lambda t: t if len(t) <= 60 else t[:59] + "…")
    _emit(frame, fmt, f"{len(frame)} papers")


@app.command()
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


@app.command()
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


@app.command()
def update(
    files: list[Path] = typer.Argument(..., help="New papers: BibTeX, RIS, CSL-JSON, CSV/TSV, JSONL or Markdown."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Input format (default: from each file's extension)."),
    abstracts: Optional[Path] = typer.Option(None, help="JSONL of abstracts for the corpus papers."),
    taxonomy: Optional[str] = typer.Option(None, help="Taxonomy for names, trends and the per-node list "
                                                      "(default: awesome-mim, else the corpus's first)."),
    out: Path = typer.Option(Path("out"), help="Folder for whats-new.md/.html/.json and trends.png."),
    no_pictures: bool = typer.Option(False, "--no-pictures", help="Skip trends.png."),
    cache: Optional[Path] = typer.Option(None, help="Embedding cache folder (default ~/.cache/mimtax)."),
    corpus: Optional[Path] = CorpusOption,
) -> None:
    """What is new since the corpus: duplicates, placement, papers that fit no node and suggested categories."""
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.fsutil import output_folder
    from taxonomy.update import compute_whats_new, read_new_papers
    from taxonomy.update.report import write_whats_new

    c = load_corpus(corpus)
    if taxonomy is not None:
        c.taxonomy(taxonomy)  # an unknown name fails before any work
    with output_folder(out):
        new = read_new_papers(files, fmt)
        report = compute_whats_new(c, new, abstracts, taxonomy, cache_dir=cache, progress=True)
        written = write_whats_new(report, out, pictures=not no_pictures)
    cfg = report.config
    console.print(f"{cfg['read']} entries read; {cfg['duplicates']} already in the corpus; {cfg['kept']} new papers; "
                  f"{len(report.near_duplicates)} possible duplicates to review; "
                  f"{int(report.papers['novel'].sum()) if cfg['kept'] else 0} fit no node; "
                  f"{len(report.suggestions)} suggested categories")
    for number, s in enumerate(report.suggestions, 1):
        node = next(iter(s.nearest_nodes.values()), ("", 0.0))[0]
        console.print(f"  S{number}: {s.name} ({len(s.members)} papers; nearest node {node}; "
                      f"nearest implementation {s.nearest_impl or '-'})")
    growth = report.growth[report.growth["new_papers"] > 0]
    if cfg.get("taxonomy") and not growth.empty:
        top = growth[growth["taxonomy"] == cfg["taxonomy"]].head(5)
        console.print("most new papers: " + ", ".join(f"{n} +{k}" for n, k in zip(top["node"], top["new_papers"])))
    console.print("wrote " + ", ".join(str(p) for p in written))


@export_app.command("latex")
def export_latex(
    taxonomy: Optional[str] = typer.Option(None, help="Taxonomy to draw (default: awesome-mim, else the first)."),
    tree: bool = typer.Option(False, "--tree", help="Draw the learned tree cut at --k instead of a survey taxonomy."),
    k: Optional[int] = typer.Option(None, min=2, help="Clusters of the learned tree (default: the taxonomy's finest "
                                                      "level size)."),
    abstracts: Optional[Path] = typer.Option(None, help="JSONL of abstracts (for --tree)."),
    out: Path = typer.Option(Path("out/latex"), help="Folder for the .tex files and references.bib."),
    cache: Optional[Path] = typer.Option(None, help="Embedding cache folder (for --tree)."),
    corpus: Optional[Path] = CorpusOption,
) -> None:
    """A forest figure with \\cite leaves and counts, booktabs tables per node, and references.bib."""
    from taxonomy.clustering.dendrogram import resolve_taxonomy
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.fsutil import output_folder
    from taxonomy.render.latex import write_latex

    c = load_corpus(corpus)
    name = resolve_taxonomy(c, taxonomy)
    if name is None and not tree:
        raise UserError(f"{c.path}: this corpus has no taxonomy; draw the learned tree with --tree --k N")
    if k is not None and not tree:
        raise UserError("--k cuts the learned tree: give it with --tree")
    result = None
    if tree:
        from taxonomy.clustering.dendrogram import build_dendrogram

        k = k or (c.taxonomy(name).level_sizes()[-1] if name else 20)
        if k >= len(c):
            raise UserError(f"--k {k}: the corpus has {len(c)} papers; choose fewer clusters")
        result = build_dendrogram(c, abstracts=abstracts, taxonomy=name, cache_dir=cache, permutations=1)
    with output_folder(out):
        written = write_latex(c, out, name, result, k)
    console.print("wrote " + ", ".join(str(p) for p in written))


@app.command()
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
    corpus: Optional[Path] = CorpusOption,
) -> None:
    """Reported results ranked within each taxonomy node, same benchmark and backbone only."""
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.explore.leaderboard import compute_leaderboard, plot_leaderboard

    _check_format(fmt)
    frame = compute_leaderboard(load_corpus(corpus), taxonomy, category, benchmark, backbone, level)
    if frame.empty:
        print("no reported result matches", file=sys.stderr)
        return
    if plot is not None:
        from taxonomy.fsutil import write_atomic

        plot_leaderboard(frame, x)  # checks before writing anything
        write_atomic(plot, lambda fh: plot_leaderboard(frame, x, png=fh))
    shown = frame.drop(columns=["source_url", "extra_data"]) if fmt == "table" else frame
    _emit(shown.astype({"year": "string", "pretrain_epochs": "string"}).fillna(""), fmt,
          f"{len(frame)} results, ranked within node and backbone")
    if plot is not None:
        print(f"wrote {plot}", file=sys.stderr)


INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C


def _interrupted() -> None:
    """Say so and exit 130. CPython remembers a Ctrl-C that escaped any `exec` of a string (dataclasses and
    namedtuples are made that way while modules import) and then ends the process by SIGINT whatever the exit
    code; a fresh `exec` of a string clears that memory, so the documented 130 holds."""
    print("interrupted", file=sys.stderr)
    exec("")  # noqa: S102 - resets CPython's unhandled-KeyboardInterrupt flag (see the docstring)
    sys.exit(INTERRUPTED)


def _one_line(message: str) -> str:
    """An error stays on one line even when it quotes a value with a newline or a control character in it."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in message)


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        _interrupted()
    except BrokenPipeError:
        _reader_left()
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # usage errors from typer's click: shown without a traceback
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code if exc.exit_code else 2)
        raise
    if code == INTERRUPTED:  # typer turns Ctrl-C inside a command into this code, silently
        _interrupted()
    sys.exit(code if isinstance(code, int) else 0)
