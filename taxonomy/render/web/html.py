"""`dendrogram.html`: the tree as a page that opens offline from file:// and lets a reader explore it.

The page is one file: the vendored d3 (ISC licence, kept in the page), the app's script and style, and the data as
inline JSON. A Content-Security-Policy in the page forbids every fetch, so nothing can reach the network. The
Python side only prepares plain data (`interactive_payload`); all the interaction lives in `app.js`.
"""

from __future__ import annotations

import json
import platform
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

NAMED_MERGES = 10  # the highest merges carry names on the page (each with words no higher name shows)
COLLAPSE_ABOVE = 60  # a subtree larger than this opens collapsed, so 5,000+ leaves never freeze the page
MAX_CUT = 40  # the first view is cut at the largest taxonomy level with at most this many nodes
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")


def _asset(name: str) -> str:
    return resources.files("taxonomy.render.web").joinpath(name).read_text(encoding="utf-8")


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) or pd.isna(value) else str(value)


def initial_cut(result, collapse_above: int) -> int:
    """How many clusters the page shows first: the largest level of the colouring taxonomy with at most MAX_CUT
    nodes; without a taxonomy, about one group per `collapse_above / 2` papers (at least 2)."""
    sizes = [k for _, k in result.levels if k <= MAX_CUT]
    if sizes:
        return max(sizes)
    return int(min(MAX_CUT, max(2, round(result.n / max(collapse_above // 2, 1)))))


def interactive_payload(result, scores: pd.DataFrame | None = None, collapse_above: int = COLLAPSE_ABOVE,
                        versions: dict | None = None) -> dict:
    """Plain data for the page: papers, the merges with their display heights and names, the taxonomies."""
    from taxonomy.clustering.labels import branch_names, survey_matches
    from taxonomy.render.plotting import PALETTE, UNLABELLED, display_heights

    papers = result.papers
    columns = {t["column"]: t["id"] for t in result.taxonomies.values()}
    rows = []
    for i, row in enumerate(papers.itertuples(index=False)):
        get = row._asdict()
        rows.append({
            "id": get["id"], "m": _text(get.get("short_name")), "t": _text(get.get("title")),
            "a": _text(get.get("authors")), "y": int(get["year"]) if _text(get.get("year")) else None,
            "v": _text(get.get("venue")), "ax": _text(get.get("arxiv_id")), "pu": _text(get.get("paper_url")),
            "cu": _text(get.get("code_url")), "impl": _text(get.get("reference_impl")),
            "flag": "; ".join(x for x in (_text(get.get("corrections")), result.audit_flags.get(get["id"], "")) if x),
            "r": result.reported.get(get["id"], ""),
            "key": _text(get.get("bibtex_key")),
            "l": {tax: [x for x in _text(get.get(column)).split(";") if x] for column, tax in columns.items()},
            "leaf": result.leaf_names[i],
        })
    Z = result.linkage
    heights = display_heights(Z) if len(Z) else np.zeros(0)
    merges = [[int(a), int(b), round(float(h), 5), int(s)] for (a, b, _, s), h in zip(Z, heights)]
    terms = {str(node): list(words) for node, words in result.node_terms.items()}
    names = {str(node): name for node, name in branch_names(Z, result.node_terms, NAMED_MERGES).items()}
    # clusters that coincide with a survey node (F1 >= 0.5) say so beside their learned name
    matches = {str(node): text for node, (text, _) in survey_matches(papers, Z, result.taxonomies).items()
               if node >= result.n}
    table = scores if scores is not None else pd.DataFrame()
    meta = {
        "title": f"mimtax dendrogram: {result.n} papers", "n": result.n, "corpus": str(result.config.get("corpus", "")),
        "config": {k: v for k, v in result.config.items() if not isinstance(v, (list, dict)) or k == "corrections"},
        "taxonomy": result.taxonomy, "cut": initial_cut(result, collapse_above), "collapse_above": collapse_above,
        "versions": versions if versions is not None else _versions(),
        "scores": json.loads(table.to_json(orient="records", double_precision=3)) if not table.empty else [],
        "with_abstract": result.n_with_abstract, "palette": list(PALETTE), "unlabelled": UNLABELLED,
    }
    return {"meta": meta, "papers": rows, "merges": merges, "terms": terms, "names": names, "matches": matches,
            "taxonomies": list(result.taxonomies.values()), "results": result.results}


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for package in ("mimtax", "numpy", "scipy", "scikit-learn", "sentence-transformers"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            pass
    return out


def render_html(payload: dict) -> str:
    """The page: d3, the app and the data inlined, every '</' in the data escaped so it cannot end a script."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    title = payload["meta"]["title"].replace("&", "&amp;").replace("<", "&lt;")
    return (_asset("page.html")
            .replace("{{CSP}}", CSP).replace("{{TITLE}}", title)
            .replace("{{STYLE}}", _asset("app.css"))
            .replace("{{D3_LICENSE}}", _asset("LICENSE-d3.txt").replace("*/", "* /"))
            .replace("{{D3}}", _asset("d3.v7.min.js"))
            .replace("{{APP}}", _asset("app.js"))
            .replace("{{DATA}}", data))


def write_html(result, path: str | Path, scores: pd.DataFrame | None = None,
               collapse_above: int = COLLAPSE_ABOVE) -> Path:
    from taxonomy.fsutil import write_text_atomic

    path = Path(path)
    write_text_atomic(path, render_html(interactive_payload(result, scores, collapse_above)))
    return path
