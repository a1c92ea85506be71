"""Commands on the corpus itself: `mimtax corpus info`, `corpus validate` and `corpus import`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from taxonomy.cli._common import CorpusOption, _table, console
from taxonomy.errors import UserError


def corpus_info(corpus: Optional[Path] = CorpusOption, top: int = typer.Option(15, min=1, help="Venues to list.")) -> None:
    """Counts per taxonomy node, year and venue."""
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.corpus.stats import compute_counts, compute_node_counts, compute_summary

    c = load_corpus(corpus)
    summary = compute_summary(c)
    console.print(f"[bold]{c.path}[/bold]: {summary['papers']} papers, {summary['arxiv_ids']} with an arXiv id, "
                  f"{summary['results']} reported results")
    from taxonomy.corpus.facets import CONFIDENT, compute_facets, coverage, in_lists

    facets = compute_facets(c)
    cover = coverage(c, facets)
    outside = sum(v is False for v in facets.attrs["in_scope"].values())
    no_evidence = sum(v is None for v in facets.attrs["in_scope"].values())
    console.print(f"papers carrying each facet: curated (from a source), inferred (from the text, where a cue has "
                  f"evidence) or unknown; {outside} papers are outside masked modelling"
                  + (f" and {no_evidence} have no evidence either way" if no_evidence else "")
                  + ": they get no inferred facet")
    measured = {row["facet"]: row for row in facets.attrs["evaluation"]}
    for r in cover.itertuples():
        m = measured[r.facet]
        accuracy = (f"{m['accuracy']:.2f} [{m['low']:.2f}, {m['high']:.2f}] where it answers, answering for "
                    f"{m['coverage']:.0%} of {m['n']}" if m["answered"] else f"no answer on any of {m['n']}")
        reference = "the modalities survey A's headings imply" if r.facet == "modality" else "the curated papers"
        mine = facets[(facets["facet"] == r.facet) & (facets["provenance"] == "inferred")]
        heading = int((mine["rule"] == "label").sum())
        unused = "" if m["answered"] and m["accuracy"] >= CONFIDENT else \
            " (below 0.85: queries leave its inferred values out unless --include-unknown)"
        console.print(f"  {r.facet}: {r.curated} curated, {r.inferred} inferred"
                      + (f" ({heading} from a survey A heading)" if heading else "")
                      + f", {r.unknown} unknown; inferred from words, leave-one-out on {reference}: {accuracy}{unused}")
    listed = set(c.papers["id"][in_lists(c)])
    if listed:
        inside = facets[facets["id"].isin(listed) & (facets["provenance"] != "unknown")]
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


def corpus_validate(path: Optional[Path] = typer.Argument(None, help="Corpus folder or papers.csv.")) -> None:
    """Report every problem as file:line: column: message; exit 1 if there is any."""
    from taxonomy.corpus.folder import default_data_dir, validate

    from taxonomy.errors import taxonomy_first

    target = path or default_data_dir()
    problems = taxonomy_first(validate(target))
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {target}", file=sys.stderr)
        raise typer.Exit(1)
    from taxonomy.corpus.folder import load_corpus
    c = load_corpus(target)
    print(f"{target}: OK: {len(c)} papers, {len(c.taxonomies)} taxonomies, {len(c.results)} results, 0 problems")


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
    imported = import_corpus(files, fmt, pairs, taxonomy_from_headings, taxonomy_id, progress=True)
    write_corpus(imported, out, force)
    for source in imported.sources:
        skipped = f", {len(source.skipped)} skipped" if source.skipped else ""
        console.print(f"{source.path}: {len(source.records)} entries read{skipped} ({source.format})")
    if imported.skipped is not None and len(imported.skipped):
        console.print(f"[yellow]{len(imported.skipped)} entry-like line(s) did not become papers; each is listed with "
                      f"its line and reason in {out / 'import-skipped.csv'}[/yellow]")
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
