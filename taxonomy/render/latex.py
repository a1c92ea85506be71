"""LaTeX for a survey: a `forest` figure of a taxonomy (a survey's, or the learned tree cut at k) with `\\cite`
leaves and counts, booktabs tables of each node's methods, and a BibTeX file for the cited papers.

Citation keys are the corpus's `cite_key` (the BibTeX key, CSL-JSON citation-key or RIS ID it was imported with)
and the paper id otherwise, so an imported list cites with the author's own keys. The output needs the `forest`,
`booktabs` and `hyperref` packages; nothing else is assumed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from taxonomy.corpus.folder import Corpus, split_labels

SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
           "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_SPECIAL = re.compile("|".join(re.escape(c) for c in SPECIAL))
FOREST_STYLE = ("for tree={grow'=0, draw, rounded corners, align=left, font=\\footnotesize, anchor=west, "
                "child anchor=west, parent anchor=east, l sep=6mm, s sep=1mm, edge path={\\noexpand\\path"
                "[\\forestoption{edge}] (!u.parent anchor) -- +(3mm,0) |- (.child anchor)\\forestoption{edge label};}},"
                " where n children=0{draw=none, text width=9cm}{}")


def escape(text: str) -> str:
    """Text safe inside LaTeX (and inside a forest node, where brackets would open a node: they are braced)."""
    out = _SPECIAL.sub(lambda m: SPECIAL[m.group(0)], str(text))
    return out.replace("[", "{[}").replace("]", "{]}")


def escape_url(url: str) -> str:
    """A URL inside \\href: the characters that would end a comment, a cell or a parameter are escaped."""
    return str(url).replace("\\", "/").replace("%", "\\%").replace("#", "\\#").replace("&", "\\&")


def cite_keys(papers: pd.DataFrame) -> pd.Series:
    """The key each paper is cited by: its cite_key, else its id."""
    keys = papers["cite_key"] if "cite_key" in papers else pd.Series("", index=papers.index)
    return keys.where(keys.astype(str).str.strip() != "", papers["id"]).astype(str)


def _cite(keys: list[str]) -> str:
    return "\\cite{" + ", ".join(keys) + "}" if keys else ""


def forest_taxonomy(corpus: Corpus, taxonomy: str) -> str:
    """A forest figure of a survey taxonomy: each node with its paper count, each leaf node's papers cited."""
    tax = corpus.taxonomy(taxonomy)
    keys = cite_keys(corpus.papers).tolist()
    holders: dict[str, list[int]] = {}
    for i, labels in enumerate(corpus.papers[tax.label_column]):
        for label in dict.fromkeys(split_labels(labels)):
            for node in tax.ancestors(label):
                holders.setdefault(node, [])
                if i not in holders[node]:
                    holders[node].append(i)
    own = {}  # the papers labelled with the node itself (a leaf's, or an inner node's direct papers)
    for i, labels in enumerate(corpus.papers[tax.label_column]):
        for label in dict.fromkeys(split_labels(labels)):
            own.setdefault(label, []).append(i)

    def render(node_id: str, depth: int) -> list[str]:
        node = tax.nodes[node_id]
        count = len(holders.get(node_id, []))
        pad = "  " * depth
        lines = [f"{pad}[{{{escape(node.name)} ({count})}}"]
        cited = sorted(dict.fromkeys(keys[i] for i in own.get(node_id, [])))
        if cited:
            lines.append(f"{pad}  [{{{_cite(cited)}}}]")
        for child in tax.children(node_id):
            if holders.get(child.id):
                lines += render(child.id, depth + 1)
        lines.append(f"{pad}]")
        return lines

    labelled = sum(1 for ls in corpus.papers[tax.label_column] if split_labels(ls))
    body = [f"[{{{escape(tax.name)} ({labelled})}}"]
    for root in tax.roots():
        if holders.get(root.id):
            body += render(root.id, 1)
    body.append("]")
    return _figure(body, f"The taxonomy of {escape(tax.name)}, with the number of papers under each node.",
                   f"fig:{tax.id}")


def forest_tree(result, k: int) -> str:
    """A forest figure of the learned tree above its cut into k clusters: each branch named by its key terms
    and counted, each cluster's papers cited."""
    from taxonomy.clustering import cluster

    Z, n = result.linkage, result.n
    k = max(1, min(int(k), n))
    labels, nodes = cluster.cuts(Z, [k], return_nodes=True)
    keys = cite_keys(result.papers).tolist()
    members: dict[int, list[int]] = {}
    for i, node in enumerate(nodes[0]):
        members.setdefault(int(node), []).append(i)
    children = {n + r: (int(a), int(b)) for r, (a, b, _, _) in enumerate(Z)}
    size = {n + r: int(s) for r, (_, _, _, s) in enumerate(Z)}

    def name(node: int) -> str:
        if node < n:
            return escape(result.leaf_names[node])
        terms = result.node_terms.get(node, [])
        return escape(", ".join(terms[:3]) or f"n{node}")

    def render(node: int, depth: int) -> list[str]:
        pad = "  " * depth
        count = size.get(node, 1)
        if node in members:  # a cluster of the cut
            cited = sorted(dict.fromkeys(keys[i] for i in members[node]))
            return [f"{pad}[{{{name(node)} ({count})}}", f"{pad}  [{{{_cite(cited)}}}]", f"{pad}]"]
        a, b = children[node]
        return [f"{pad}[{{{name(node)} ({count})}}", *render(a, depth + 1), *render(b, depth + 1), f"{pad}]"]

    root = 2 * n - 2 if n > 1 else 0
    return _figure(render(root, 0), f"The learned tree cut into {k} clusters, each branch named by its key terms.",
                   f"fig:tree-k{k}")


def _figure(body: list[str], caption: str, label: str) -> str:
    return "\n".join(["% needs \\usepackage{forest}", "\\begin{figure}[t]", "\\centering", "\\begin{forest}",
                      FOREST_STYLE, *body, "\\end{forest}", f"\\caption{{{caption}}}", f"\\label{{{label}}}",
                      "\\end{figure}", ""])


def node_tables(corpus: Corpus, groups: dict[str, list[int]], titles: dict[str, str]) -> str:
    """One booktabs table per group (a taxonomy node or a cluster): method, year, venue, reported ImageNet-1K
    fine-tune top-1 and code, sorted by year then method."""
    from taxonomy.explore.query import best_results

    text, _ = best_results(corpus)
    keys = cite_keys(corpus.papers).tolist()
    out = ["% needs \\usepackage{booktabs} and \\usepackage{hyperref}", ""]
    for group, rows in groups.items():
        frame = corpus.papers.iloc[rows].assign(cite=[keys[i] for i in rows])
        frame = frame.sort_values(["year", "short_name", "id"], kind="stable", na_position="last")
        out += ["\\begin{table}[t]", "\\centering", "\\small", "\\begin{tabular}{llllll}",
                "\\toprule", "Method & Year & Venue & Paper & IN-1K top-1 & Code \\\\", "\\midrule"]
        for row in frame.itertuples(index=False):
            method = escape(row.short_name or row.title[:40])
            year = "" if pd.isna(row.year) else str(int(row.year))
            code = f"\\href{{{escape_url(row.code_url)}}}{{code}}" if row.code_url else "--"
            out.append(f"{method} & {year} & {escape(row.venue)} & \\cite{{{row.cite}}} & "
                       f"{escape(text.get(row.id, '--'))} & {code} \\\\")
        slug = re.sub(r"[^a-z0-9]+", "-", group.lower()).strip("-")
        papers = f"{len(rows)} paper{'s' if len(rows) != 1 else ''}"
        out += ["\\bottomrule", "\\end{tabular}", f"\\caption{{{escape(titles[group])}: {papers}.}}",
                f"\\label{{tab:{slug}}}", "\\end{table}", ""]
    return "\n".join(out)


def taxonomy_groups(corpus: Corpus, taxonomy: str) -> tuple[dict[str, list[int]], dict[str, str]]:
    """The papers of each leaf node of a taxonomy (in tree order), and the node names."""
    tax = corpus.taxonomy(taxonomy)
    groups: dict[str, list[int]] = {}
    for i, labels in enumerate(corpus.papers[tax.label_column]):
        for label in dict.fromkeys(split_labels(labels)):
            groups.setdefault(label, []).append(i)
    order = [n.id for n in _tree_order(tax) if n.id in groups]
    return {node: groups[node] for node in order}, {node: " > ".join(tax.nodes[a].name for a in tax.ancestors(node))
                                                     for node in order}


def _tree_order(tax):
    stack, out = list(reversed(tax.roots())), []
    while stack:
        node = stack.pop()
        out.append(node)
        stack += list(reversed(tax.children(node.id)))
    return out


def cluster_groups(result, k: int) -> tuple[dict[str, list[int]], dict[str, str]]:
    from taxonomy.clustering import cluster

    labels, nodes = cluster.cuts(result.linkage, [k], return_nodes=True)
    groups: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for i, (label, node) in enumerate(zip(labels[0], nodes[0])):
        key = f"cluster {label}"
        groups.setdefault(key, []).append(i)
        names[key] = f"Cluster {label} ({', '.join(result.node_terms.get(int(node), [])[:3]) or 'one paper'})"
    return dict(sorted(groups.items(), key=lambda kv: int(kv[0].split()[1]))), names


def bibtex(papers: pd.DataFrame) -> str:
    """A BibTeX entry per paper (facts only: title, authors, year, venue, arXiv id, URL), under its cite key."""
    out = []
    for key, row in zip(cite_keys(papers), papers.itertuples(index=False)):
        fields = [("title", "{" + escape(row.title) + "}"),
                  ("author", " and ".join(a.strip() for a in str(row.authors).split(",") if a.strip())),
                  ("year", "" if pd.isna(row.year) else str(int(row.year))), ("journal", escape(row.venue)),
                  ("eprint", row.arxiv_id), ("archivePrefix", "arXiv" if row.arxiv_id else ""),
                  ("url", escape_url(row.paper_url))]
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
        out.append(f"@article{{{key},\n{body}\n}}\n")
    return "\n".join(out)


def latex_outputs(tree: bool, k: int | None = None) -> list[str]:
    """The names `write_latex` writes, so the command can refuse to replace a user's file before any work."""
    return [f"tree-k{k}.tex" if tree else "taxonomy.tex", "tables.tex", "references.bib"]


def write_latex(corpus: Corpus, out: str | Path, taxonomy: str | None = None, result=None,
                k: int | None = None) -> list[Path]:
    """`taxonomy.tex` (or `tree-k<k>.tex` for the learned tree), `tables.tex` and `references.bib` in `out`,
    all changed together or none (a full disk leaves the previous set); files mimtax did not write are refused."""
    from taxonomy.fsutil import check_outputs, check_writable, write_outputs_together

    out = Path(out)
    check_writable(out)
    check_outputs(out / name for name in latex_outputs(result is not None, k))
    if result is not None:
        figure, name = forest_tree(result, k), f"tree-k{k}.tex"
        groups, titles = cluster_groups(result, k)
    else:
        figure, name = forest_taxonomy(corpus, taxonomy), "taxonomy.tex"
        groups, titles = taxonomy_groups(corpus, taxonomy)
    cited = sorted({i for rows in groups.values() for i in rows})
    files = {name: figure, "tables.tex": node_tables(corpus, groups, titles),
             "references.bib": bibtex(corpus.papers.iloc[cited])}
    return write_outputs_together(out, {file: _utf8(text) for file, text in files.items()}, "export latex")


def _utf8(text: str):
    return lambda fh: fh.write(text.encode("utf-8"))
