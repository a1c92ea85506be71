"""The dendrogram job: `mimtax dendrogram` (embed, cluster, name, score, draw), `embed` (a field of any size into
shards) and `enrich` (fetch missing abstracts, the only command that uses the network)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from taxonomy.cli._common import CorpusOption, ForceOption, _allow_replacing, _table, console
from taxonomy.errors import UsageError, UserError


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
    k: Optional[list[int]] = typer.Option(None, "--k", help="With --shards: cluster counts to cut at, each 2 to "
                                                            "records-1 (default: those of 10, 30, 100 that fit)."),
    force: bool = ForceOption,
    figure_k: Optional[int] = typer.Option(None, "--figure-k", min=0, max=55,
                                           help="Also draw the tree cut into this many clusters as a figure for a "
                                                "paper: dendrogram-k<K>.png/.svg/.pdf (default: the colouring "
                                                "taxonomy's finest level, else 20; 0: none)."),
) -> None:
    """Embed, cluster, name and score the corpus; write the tree, pictures and report to --out."""
    import time

    _allow_replacing(force)

    if shards is not None:
        if corpus is not None or abstracts is not None or guided or audit:
            raise typer.BadParameter("--shards builds the field tree from the shards alone; drop --corpus, "
                                     "--abstracts, --guided and --audit", param_hint="--shards")
        from taxonomy.scale.field import write_field_tree

        start = time.perf_counter()
        facts = write_field_tree(shards, out, tuple(k) if k else None)
        console.print(f"{facts['n']} records from {shards} ({facts['model']}); {facts['method']} in "
                      f"{facts['seconds']:.1f} s; wrote field-linkage.npy, field-clusters.csv, field.json to {out} "
                      f"in {time.perf_counter() - start:.1f} s")
        return

    if k:
        raise UsageError("--k cuts the field tree of --shards; without --shards the tree is cut at every level size "
                         "of the corpus's taxonomies (see clusters.csv)")
    import signal

    from taxonomy.fsutil import output_folder
    from taxonomy.render.painter import Painter

    # SIGTERM unwinds like Ctrl-C, so the staging and drawing folders are removed on the way out
    signal.signal(signal.SIGTERM, _interrupt)
    start = time.perf_counter()
    if cache is not None and cache.exists() and not cache.is_dir():
        raise UserError(f"--cache {cache}: is a file; give a folder for the embedding cache")
    with output_folder(out):
        from taxonomy.fsutil import check_outputs
        from taxonomy.render.export import planned_outputs

        check_outputs(out / name for name in planned_outputs(not no_pictures, guided, figure_k=figure_k))
        painter = None
        try:
            painter = None if no_pictures else Painter.start(out)  # forks now, before the heavy imports
            from taxonomy.clustering.dendrogram import build_dendrogram
            from taxonomy.explore.place import audit_flags
            from taxonomy.render.export import score_table, write_outputs

            result = build_dendrogram(corpus, abstracts=abstracts, embedding=embedding, linkage=linkage,
                                      taxonomy=taxonomy, guided=guided, cache_dir=cache,
                                      audit=audit_flags if audit else None,
                                      on_tree=(lambda r: painter.draw("tree", r)) if painter else None,
                                      on_curves=(lambda r: painter.draw("scores", r)) if painter else None)
            written = write_outputs(result, out, pictures=not no_pictures, painter=painter,
                                    previous_clusters=previous, collapse_above=collapse_above, figure_k=figure_k)
        finally:
            if painter is not None:
                painter.close()
    for line in result.abstract_conflicts:
        print(f"warning: {line}", file=sys.stderr)
    table = score_table(result)
    table = table[table["metric"] == "ami"].drop(columns=["metric"])
    for col in table.columns:
        if table[col].dtype.kind == "f":
            table[col] = table[col].map(lambda v: "not scored" if v != v else f"{v:.3f}")
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
    id_field: Optional[str] = typer.Option(None, help="Field holding each record's id (default: `id`, else `key`)."),
    force: bool = ForceOption,
) -> None:
    """Embed a corpus of any size into content-addressed, resumable float16 shards."""
    _allow_replacing(force)
    from taxonomy.scale import embed_records, parse_shard_spec

    try:
        part = parse_shard_spec(shard)
    except UserError as exc:
        raise typer.BadParameter(str(exc).split(": ", 1)[1], param_hint="--shard") from None
    summary = embed_records(source, out, embedding, engine=engine, shard_size=shard_size, shard=part,
                            workers=workers, device=device, ray_address=ray_address, id_field=id_field)
    console.print(f"{summary.records} records in {summary.shards} shards: {summary.computed} embedded now, "
                  f"{summary.skipped} already there" + (f", {summary.others} left to other tasks" if summary.others
                                                         else "") + f"; {out}/plan.json")
