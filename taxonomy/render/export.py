"""Write a Dendrogram to disk: clusters.csv, tree.nwk, tree.json, tree.graphml, report.json, report.md.

Everything is written into a temporary folder beside the output and moved into place only when all files
exist, so a failure leaves the previous outputs untouched. Numbers are rounded so reruns are byte-identical.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from taxonomy.clustering.dendrogram import Dendrogram
from taxonomy.fsutil import (check_outputs, check_writable, forget_outputs, publish, remove_stale_scratch,
                              scratch_folder, write_text_atomic)

MANIFEST = "manifest.json"
WRITTEN_BY = "mimtax dendrogram"

DIGITS = 6


def _r(x: float) -> float | None:
    x = float(x)
    return None if np.isnan(x) else round(x, DIGITS)


def _newick(result: Dendrogram) -> str:
    Z, n, ids = result.linkage, result.n, list(result.papers["id"])
    heights = np.concatenate([np.zeros(n), Z[:, 2]])
    children = {n + r: (int(a), int(b)) for r, (a, b, _, _) in enumerate(Z)}

    def render(node: int, parent_h: float) -> str:
        length = f":{max(parent_h - heights[node], 0.0):.{DIGITS}f}"
        if node < n:
            return f"'{ids[node]}'{length}"
        a, b = children[node]
        return f"({render(a, heights[node])},{render(b, heights[node])})n{node}{length}"

    root = 2 * n - 2
    sys_limit = max(10_000, 4 * n)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(sys_limit)
    try:
        return render(root, heights[root]).rsplit(":", 1)[0] + ";\n"
    finally:
        sys.setrecursionlimit(old)


def tree_dict(result: Dendrogram, label_columns: list[str]) -> dict:
    """Nested {id, height, terms, children} / {id, name, title, labels} for D3 and friends (iterative)."""
    Z, n = result.linkage, result.n
    papers = result.papers
    nodes: dict[int, dict] = {}
    for i in range(n):
        nodes[i] = {"id": papers["id"].iat[i], "name": result.leaf_names[i], "title": papers["title"].iat[i],
                    **{c: papers[c].iat[i] for c in label_columns}}
    for row, (a, b, h, s) in enumerate(Z):
        node = n + row
        nodes[node] = {"id": f"n{node}", "height": _r(h), "size": int(s),
                       "terms": result.node_terms.get(node, []), "children": [nodes.pop(int(a)), nodes.pop(int(b))]}
    return nodes[2 * n - 2]


GRAPHML_KEYS = (("kind", "string"), ("name", "string"), ("title", "string"), ("height", "double"),
                ("size", "long"), ("terms", "string"))
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(value) -> str:
    """Text safe inside an XML element or attribute (characters XML 1.0 cannot hold are dropped)."""
    return escape(_XML_INVALID.sub("", str(value)), {'"': "&quot;"})


def _graphml(result: Dendrogram, path: Path) -> None:
    """The tree as a directed GraphML graph (parent -> child), written directly: networkx takes longer to
    import than the whole file takes to write."""
    Z, n = result.linkage, result.n
    ids = [str(v) for v in result.papers["id"]]
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
             'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation='
             '"http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">']
    lines += [f'  <key id="{k}" for="node" attr.name="{k}" attr.type="{t}" />' for k, t in GRAPHML_KEYS]
    lines.append('  <graph edgedefault="directed">')

    def node(node_id: str, **data) -> None:
        body = "".join(f'<data key="{k}">{_xml(v)}</data>' for k, v in data.items())
        lines.append(f'    <node id="{_xml(node_id)}">{body}</node>')

    for i in range(n):
        node(ids[i], kind="paper", name=result.leaf_names[i], title=result.papers["title"].iat[i])
    edges = []
    for row, (a, b, h, s) in enumerate(Z):
        parent = f"n{n + row}"
        node(parent, kind="cluster", height=repr(float(_r(h))), size=int(s),
             terms=", ".join(result.node_terms.get(n + row, [])))
        edges += [(parent, ids[c] if c < n else f"n{c}") for c in (int(a), int(b))]
    lines += [f'    <edge source="{_xml(a)}" target="{_xml(b)}" />' for a, b in edges]
    lines += ["  </graph>", "</graphml>", ""]
    write_text_atomic(path, "\n".join(lines))


def _agreement_json(agreement: dict) -> dict:
    levels = agreement["levels"]
    out = {}
    for (tax, level), group in levels.groupby(["taxonomy", "level"], sort=False):
        first = group.iloc[0]
        reason = str(first.get("not_scored", "") or "")
        out.setdefault(tax, {"levels": {}})["levels"][level] = {"k": int(first["k"]), "papers": int(first["papers"]),
                                                                 "scored": False, "not_scored": reason} if reason else {
            "k": int(first["k"]), "papers": int(first["papers"]),
            **{m: _r(v) for m, v in zip(group["metric"], group["value"])},
            "permutation_mean": {m: _r(v) for m, v in zip(group["metric"], group["permutation_mean"])},
        }
    for tax, scores in agreement["tree"].items():
        out[tax].update({k: _r(v) for k, v in scores.items()})
        curve = agreement["bk"][tax]
        out[tax]["bk_curve"] = [{"k": int(k), "bk": _r(b), "permutation_mean": _r(p)}
                                for k, b, p in curve[["k", "bk", "permutation_mean"]].itertuples(index=False)]
    return out


def report_dict(result: Dendrogram) -> dict:
    report = {
        "papers": result.n, "papers_with_abstract": result.n_with_abstract, "config": result.config,
        "multi_label_rule": "primary label: the first node a survey lists the paper under",
        "dendrogram": _agreement_json(result.agreement),
        "survey_b_recipe": {"description": "TF-IDF of title + abstract, Ward linkage (survey B, section 4)",
                            **_agreement_json(result.baseline_agreement)},
    }
    if result.guided_agreement is not None:
        report["guided"] = {
            "taxonomy": result.taxonomy, "files": "guided_*: the tree whose upper levels are the taxonomy",
            "description": GUIDED_NOTE,
            "levels": [{k: _r(v) if isinstance(v, float) else v for k, v in row.items()}
                       for row in result.guided_agreement.to_dict(orient="records")]}
    k_cols = sorted((c for c in result.cuts.columns if c.startswith("cluster_k")), key=lambda c: int(c[9:]))
    report["cluster_implementations"] = {
        col[9:]: {str(c): m[f"impls_k{col[9:]}"].iloc[0] for c, m in _by_cluster(result, col)}
        for col in k_cols}
    if not result.cluster_changes.empty:
        report["cluster_changes"] = change_summary(result).to_dict(orient="records")
    return report


def _natural_key(cluster_id: object) -> tuple:
    """C2 before C10: ids compared number by number, not character by character."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(cluster_id)))


def _by_cluster(result: Dendrogram, cluster_column: str) -> list[tuple[object, pd.DataFrame]]:
    """The papers of each flat cluster of one cut, clusters in natural id order."""
    groups = result.cuts.groupby(_id_column(result, cluster_column), sort=False)
    return sorted(groups, key=lambda item: _natural_key(item[0]))


def _shorten(text: str, width: int = 40) -> str:
    """Cut a title at a word boundary and say so, rather than mid-word."""
    if len(text) <= width:
        return text
    cut = text[:width - 1].rsplit(" ", 1)[0] if " " in text[:width - 1] else text[:width - 1]
    return cut.rstrip(" ,:;-") + "…"


def _cell(value: object) -> str:
    """A Markdown table cell: a '|' inside a title or term would split the row."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _id_column(result: Dendrogram, cluster_column: str) -> str:
    """The stable id column of a cut when the cuts carry ids, else the cut's own numbering."""
    column = "id_k" + cluster_column[9:]
    return column if column in result.cuts else cluster_column


def change_summary(result: Dendrogram) -> pd.DataFrame:
    """Per cut: how many earlier clusters kept their id, and how many split, merged, appeared or vanished."""
    from taxonomy.clustering.stable_ids import kept_share

    events = ["kept", "changed", "split", "merged", "appeared", "vanished"]
    rows = []
    for k, group in result.cluster_changes.groupby("k", sort=True):
        counts = group["event"].value_counts()
        rows.append({"k": int(k), **{e: int(counts.get(e, 0)) for e in events},
                     "ids_kept": round(kept_share(group), 3)})
    return pd.DataFrame(rows, columns=["k", *events, "ids_kept"])


def score_table(result: Dendrogram) -> pd.DataFrame:
    """One row per (taxonomy, level, metric): ours, survey B's recipe, chance."""
    ours = result.agreement["levels"]
    base = result.baseline_agreement["levels"]
    table = ours[["taxonomy", "level", "k", "papers", "metric"]].copy()
    table["dendrogram"] = ours["value"].to_numpy()
    table["survey_recipe"] = base["value"].to_numpy()
    table["chance"] = ours["permutation_mean"].to_numpy()
    if "not_scored" in ours and (ours["not_scored"].fillna("") != "").any():  # a level with one node, few labels
        table["not_scored"] = ours["not_scored"].fillna("").to_numpy()
    return table


GUIDED_NOTE = ("Each level below the top: a tree guided by the levels above it only, cut at this level's size, so "
               "the split inside each given node is learned from the text (the guided tree's score at the levels it "
               "was given would be 1 by construction). inside_random: the same score with the labels shuffled "
               "within each given node, what the guidance alone is worth; unguided: the unsupervised tree.")


def report_markdown(result: Dendrogram) -> str:
    table = score_table(result)
    lines = [
        "# Dendrogram report", "",
        f"{result.n} papers, {result.n_with_abstract} with an abstract. Embedding `{result.config['embedding']}`, "
        f"linkage `{result.config['linkage']}`"
        + ("; papers known by their title alone and papers with an abstract aligned (each kind's mean removed)"
           if result.config.get("text_kinds_aligned") else "")
        + ". Papers with several labels are scored with their primary (first listed) label.", "",
        "## Agreement with the survey taxonomies", "",
        "Each level: the tree cut into as many clusters as the level has nodes. `survey_recipe` is survey B's "
        "TF-IDF + Ward on the same text; `chance` the mean over label permutations.", "",
    ]
    cols = [c for c in ("taxonomy", "level", "k", "papers", "metric", "dendrogram", "survey_recipe", "chance",
                        "not_scored") if c in table]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "---|" * len(cols))
    for row in table[cols].itertuples(index=False):
        lines.append("| " + " | ".join(("not scored" if v != v else f"{v:.3f}") if isinstance(v, float)
                                       else _cell(v) for v in row) + " |")
    if result.guided_agreement is not None:
        guided = result.guided_agreement
        lines += ["", f"## Guided tree ({result.taxonomy}; files guided_*)", "", GUIDED_NOTE, "",
                  "| " + " | ".join(guided.columns) + " |", "|" + "---|" * len(guided.columns)]
        for row in guided.itertuples(index=False):
            lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |")
    lines += ["", "## Whole-tree scores", "", "| taxonomy | tree | dendrogram purity | cophenetic correlation |",
              "|---|---|---|---|"]
    for name, agreement in (("dendrogram", result.agreement), ("survey_recipe", result.baseline_agreement)):
        for tax, s in agreement["tree"].items():
            lines.append(f"| {tax} | {name} | {s['dendrogram_purity']:.3f} | {s['cophenetic_correlation']:.3f} |")
    lines += ["", "## Clusters and the implementations they link to", "",
              "Flat clusters at survey A's subsection count; `impls`: reference implementations of member papers, "
              "or the nearest one by facets (target, masking) when no member is implemented.", "",
              "| cluster | papers | key terms | impls | examples |", "|---|---|---|---|---|"]
    k_cols = sorted((c for c in result.cuts.columns if c.startswith("cluster_k")), key=lambda c: int(c[9:]))
    if k_cols:
        col = k_cols[-1]
        k = col[9:]
        for c, members in _by_cluster(result, col):
            examples = ", ".join(m or _shorten(t) for m, t in zip(members["short_name"][:4], members["title"][:4]))
            cells = [c, len(members), members[f"terms_k{k}"].iloc[0], members[f"impls_k{k}"].iloc[0], examples]
            lines.append("| " + " | ".join(_cell(v) for v in cells) + " |")
    if not result.cluster_changes.empty:
        summary = change_summary(result)
        lines += ["", "## Cluster ids against the previous run", "",
                  "Each cut is the partition of the new tree into k subtrees that keeps the most earlier clusters; "
                  "a cluster keeps its id when it holds at least half of an earlier cluster's papers "
                  "(`cluster-changes.csv` lists every event).", "",
                  "| " + " | ".join(summary.columns) + " |", "|" + "---|" * len(summary.columns)]
        lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in summary.itertuples(index=False)]
        notable = result.cluster_changes[result.cluster_changes["event"].isin(["split", "merged", "appeared",
                                                                               "vanished"])]
        for row in notable.itertuples(index=False):
            where = {"merged": f" from {row.from_ids}", "split": f" into {row.to_ids}"}.get(row.event, "")
            lines.append(f"- k={row.k}: {row.event} {row.id}{where} ({row.papers} papers)")
    lines += ["", "## Top branches", ""]
    n = result.n
    for row in range(len(result.linkage) - 1, max(len(result.linkage) - 16, -1), -1):
        terms = ", ".join(result.node_terms.get(n + row, []))
        lines.append(f"- n{n + row} ({int(result.linkage[row, 3])} papers): {terms}")
    return "\n".join(lines) + "\n"


def _previous_outputs(out: Path) -> set[str]:
    """The files an earlier `write_outputs` put into `out`, from its manifest: the only files it may remove."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(manifest, dict) or manifest.get("written_by") != WRITTEN_BY:
        return set()
    return {name for name in manifest.get("files", []) if isinstance(name, str) and name == Path(name).name
            and not name.startswith(".")}


def _write_guided(result: Dendrogram, staging: Path, label_columns: list[str], pictures: bool) -> None:
    """The taxonomy-guided tree's own files, beside the unsupervised ones (names start with `guided_`)."""
    from taxonomy.clustering.dendrogram import guided_view

    view = guided_view(result)
    view.cuts.to_csv(staging / "guided_clusters.csv", index=False, lineterminator="\n")
    (staging / "guided_tree.nwk").write_text(_newick(view), encoding="utf-8")
    (staging / "guided_tree.json").write_text(json.dumps(tree_dict(view, label_columns), ensure_ascii=False),
                                              encoding="utf-8")
    _graphml(view, staging / "guided_tree.graphml")
    if pictures:
        from taxonomy.render.plotting import dendrogram_svg, plot_dendrogram

        (staging / "guided_dendrogram.svg").write_text(dendrogram_svg(view), encoding="utf-8")
        plot_dendrogram(view, png=staging / "guided_dendrogram.png")


def planned_outputs(pictures: bool = True, guided: bool = False, changes: bool = True,
                    figure_k: int | None = None) -> list[str]:
    """The names `write_outputs` may write, so a command can refuse to replace a user's file before any work."""
    names = ["clusters.csv", "tree.nwk", "tree.json", "tree.graphml", "report.json", "report.md", "dendrogram.html",
             MANIFEST, *(["cluster-changes.csv"] if changes else [])]
    if pictures:
        names += ["dendrogram.svg", "dendrogram.png", "bk_curve.png"]
        if figure_k:
            from taxonomy.render.plotting import figure_names

            names += figure_names(figure_k)
    if guided:
        names += ["guided_clusters.csv", "guided_tree.nwk", "guided_tree.json", "guided_tree.graphml",
                  *(["guided_dendrogram.svg", "guided_dendrogram.png"] if pictures else [])]
    return names


def write_outputs(result: Dendrogram, out: str | Path, pictures: bool = True, painter=None,
                  previous_clusters: str | Path | None = None, collapse_above: int | None = None,
                  figure_k: int | None = None) -> list[Path]:
    """Write every output into `out` atomically (all files appear together or none change).

    Cluster ids carry over from `previous_clusters`, or else from the clusters.csv an earlier run wrote into
    `out` (`cluster-changes.csv` then says what changed). The PNG pictures are drawn by a `Painter` process (one
    is started here unless the caller passes its own) while this process writes the other files and the SVG.
    `figure_k`: the cut of the paper figure (dendrogram-k<K>.png/.svg/.pdf); None = `default_figure_k`, 0 = none."""
    from taxonomy.clustering.dendrogram import track_clusters
    from taxonomy.clustering.stable_ids import read_previous
    from taxonomy.render.painter import Painter

    from taxonomy.render.plotting import default_figure_k

    out = Path(out)
    figure_k = (default_figure_k(result) if figure_k is None else figure_k or None) if pictures else None
    if figure_k and figure_k >= result.n:  # a cut into as many clusters as papers is the full tree
        figure_k = default_figure_k(result)
    check_writable(out)
    check_outputs(out / name for name in planned_outputs(pictures, result.guided_linkage is not None, False,
                                                         figure_k))
    remove_stale_scratch(out)
    previous = _previous_outputs(out)
    if previous_clusters is not None:
        from taxonomy.errors import UserError

        if not Path(previous_clusters).is_file():
            raise UserError(f"--previous {previous_clusters}: file not found; give an earlier run's clusters.csv")
        earlier = read_previous(previous_clusters)
        if earlier is None:
            raise UserError(f"--previous {previous_clusters}: expected a clusters.csv written by mimtax dendrogram "
                            "(columns id and id_k<k>)")
    else:
        earlier = read_previous(out / "clusters.csv") if "clusters.csv" in previous else None
    track_clusters(result, earlier)
    staging = scratch_folder(out, "staging")
    own_painter = painter is None and pictures
    if own_painter:
        painter = Painter.start(out)
    try:
        if painter is not None:
            painter.draw("tree", result)
            painter.draw("scores", result)
            if figure_k:
                painter.draw("figure", result, figure_k)
        label_columns = [c for c in result.label_columns if c in result.papers]
        result.cuts.to_csv(staging / "clusters.csv", index=False, lineterminator="\n")
        if not result.cluster_changes.empty:
            result.cluster_changes.to_csv(staging / "cluster-changes.csv", index=False, lineterminator="\n")
        (staging / "tree.nwk").write_text(_newick(result), encoding="utf-8")
        (staging / "tree.json").write_text(json.dumps(tree_dict(result, label_columns), ensure_ascii=False),
                                           encoding="utf-8")
        _graphml(result, staging / "tree.graphml")
        (staging / "report.json").write_text(json.dumps(report_dict(result), indent=1, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        (staging / "report.md").write_text(report_markdown(result), encoding="utf-8")
        from taxonomy.render.web import write_html
        from taxonomy.render.web.html import COLLAPSE_ABOVE

        write_html(result, staging / "dendrogram.html", score_table(result), collapse_above or COLLAPSE_ABOVE)
        if result.guided_linkage is not None:
            _write_guided(result, staging, label_columns, pictures)
        if pictures:
            from taxonomy.render.plotting import dendrogram_svg

            (staging / "dendrogram.svg").write_text(dendrogram_svg(result), encoding="utf-8")
            if painter is not None:
                painter.collect(result, staging)
            else:
                from taxonomy.render.plotting import plot_bk_curve, plot_dendrogram

                plot_dendrogram(result, png=staging / "dendrogram.png")
                plot_bk_curve(result, staging / "bk_curve.png")
                if figure_k:
                    from taxonomy.clustering.labels import survey_matches
                    from taxonomy.render.plotting import figure_names, plot_cut_dendrogram

                    plot_cut_dendrogram(result, figure_k, [staging / f for f in figure_names(figure_k)],
                                        survey_matches(result.papers, result.linkage, result.taxonomies))
        names = sorted(item.name for item in staging.iterdir())
        (staging / MANIFEST).write_text(json.dumps({"written_by": WRITTEN_BY, "files": names}, indent=1) + "\n",
                                        encoding="utf-8")
        written = publish(out, {name: staging / name for name in [*names, MANIFEST]}, "dendrogram")
        # e.g. pictures of an earlier run, now stale (--no-pictures)
        forget_outputs(out, sorted(previous - set(names) - {MANIFEST}))
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if own_painter and painter is not None:
            painter.close()
