"""The update job: `mimtax update` (what is new since the corpus) and `export latex` (figures and tables for a
survey)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from taxonomy.cli._common import CorpusOption, ForceOption, _allow_replacing, console
from taxonomy.errors import UsageError, UserError, check_cluster_counts


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
    force: bool = ForceOption,
) -> None:
    """What is new since the corpus: duplicates, placement, papers that fit no node and suggested categories."""
    _allow_replacing(force)
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.fsutil import output_folder
    from taxonomy.update import compute_whats_new, read_new_papers
    from taxonomy.update.report import write_whats_new

    c = load_corpus(corpus)
    if taxonomy is not None:
        c.taxonomy(taxonomy)  # an unknown name fails before any work
    with output_folder(out):
        from taxonomy.fsutil import check_outputs
        from taxonomy.update.report import OUTPUTS

        check_outputs(out / name for name in OUTPUTS)  # before any work
        new = read_new_papers(files, fmt)
        report = compute_whats_new(c, new, abstracts, taxonomy, cache_dir=cache, progress=True)
        written = write_whats_new(report, out, pictures=not no_pictures)
    try:  # everything is written now: a Ctrl-C while the summary prints loses nothing
        cfg = report.config
        console.print(f"{cfg['read']} entries read; {cfg['duplicates']} already in the corpus; "
                      f"{cfg['kept']} new papers; {len(report.near_duplicates)} possible duplicates to review; "
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
    except KeyboardInterrupt:
        print("interrupted after every output was written: " + ", ".join(str(p) for p in written), file=sys.stderr)


def export_latex(
    taxonomy: Optional[str] = typer.Option(None, help="Taxonomy to draw (default: awesome-mim, else the first)."),
    tree: bool = typer.Option(False, "--tree", help="Draw the learned tree cut at --k instead of a survey taxonomy."),
    k: Optional[int] = typer.Option(None, help="Clusters of the learned tree, 2 to papers-1 (default: the taxonomy's "
                                               "finest level size)."),
    abstracts: Optional[Path] = typer.Option(None, help="JSONL of abstracts (for --tree)."),
    out: Path = typer.Option(Path("out/latex"), help="Folder for the .tex files and references.bib."),
    cache: Optional[Path] = typer.Option(None, help="Embedding cache folder (for --tree)."),
    corpus: Optional[Path] = CorpusOption,
    force: bool = ForceOption,
) -> None:
    """A forest figure with \\cite leaves and counts, booktabs tables per node, and references.bib."""
    _allow_replacing(force)
    from taxonomy.clustering.dendrogram import resolve_taxonomy
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.fsutil import output_folder
    from taxonomy.render.latex import write_latex

    c = load_corpus(corpus)
    name = resolve_taxonomy(c, taxonomy)
    if name is None and not tree:
        raise UserError(f"{c.path}: this corpus has no taxonomy; draw the learned tree with --tree --k N")
    if k is not None and not tree:
        raise UsageError("--k cuts the learned tree: give it with --tree")
    result = None
    if tree:
        from taxonomy.clustering.dendrogram import build_dendrogram

        if k is not None:
            check_cluster_counts([k], len(c))
        else:  # the default fits the corpus, like every command's default cluster counts
            k = min(c.taxonomy(name).level_sizes()[-1] if name else 20, max(len(c) - 1, 2))
            check_cluster_counts([k], len(c))
        from taxonomy.fsutil import check_outputs
        from taxonomy.render.latex import latex_outputs

        check_outputs(out / file for file in latex_outputs(True, k))  # before building the tree
        result = build_dendrogram(c, abstracts=abstracts, taxonomy=name, cache_dir=cache, permutations=1)
    with output_folder(out):
        written = write_latex(c, out, name, result, k)
    console.print("wrote " + ", ".join(str(p) for p in written))
