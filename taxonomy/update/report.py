"""Write a WhatsNew as `whats-new.md` and `whats-new.html` (for a person), `whats-new.json` (for a program) and
`trends.png`.

Each file is written through a temporary file and renamed; nothing else in the folder is touched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomy.update.run import WhatsNew

GROWTH_ROWS = 10


def _cell(value) -> str:
    if isinstance(value, float):
        return "∞" if np.isinf(value) else f"{value:.3g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return ["(none)"]
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return lines


def top_level(trends: pd.DataFrame) -> pd.DataFrame:
    """The rows of the taxonomy's first level (every node's counts are in whats-new.json)."""
    return trends[trends["depth"] == 0]


def trend_table(report: WhatsNew) -> pd.DataFrame:
    """Papers per year (corpus + new) per top-level node, one column per year."""
    trends = top_level(report.trends)
    if trends.empty:
        return pd.DataFrame()
    total = trends.assign(papers=trends["corpus"] + trends["new"])
    return total.pivot_table(index="name", columns="year", values="papers", aggfunc="sum", fill_value=0)


def whats_new_markdown(report: WhatsNew, trends_png: str | None = None) -> str:
    cfg = report.config
    papers = report.papers
    lines = ["# What's new", "",
             f"{cfg['read']} entries read from {', '.join(Path(f).name for f in cfg['files'])}; "
             f"{cfg['duplicates']} already in the corpus; **{cfg['kept']} new papers** ({cfg['with_abstract']} with an "
             f"abstract), placed in a corpus of {cfg['corpus_papers']} papers. "
             f"{int(papers['novel'].sum()) if len(papers) else 0} fit no existing node; "
             f"{len(report.suggestions)} new categories suggested.", ""]
    if not report.duplicates.empty or not report.near_duplicates.empty:
        lines += ["## Duplicates", "", "Dropped (the corpus already holds them):", ""]
        lines += _table(report.duplicates[["new_id", "title", "corpus_id", "matched_on"]])
        lines += ["", "Kept, but possibly one paper under two names (a preprint and its published version): "
                  "review these.", ""]
        lines += _table(report.near_duplicates)
        lines.append("")
    lines += ["## Suggested new categories", "",
              "Groups of new papers that sit together and away from the corpus, more than a batch of papers that "
              "fit the existing nodes would by chance (p below the threshold calibrated on the corpus). The name "
              "holds the terms that set the group apart from its nearest node.", ""]
    if not report.suggestions:
        lines += ["(none)", ""]
    for number, s in enumerate(report.suggestions, 1):
        nearest = "; ".join(f"{tax}: `{node}` (cosine {sim:.2f})" for tax, (node, sim) in s.nearest_nodes.items())
        lines += [f"### S{number}: {s.name}", "",
                  f"{len(s.members)} papers, p = {s.p_value:.2g}. Nearest existing node: {nearest}. "
                  + (f"Nearest reference implementation: `{s.nearest_impl}` (via `{s.nearest_impl_paper}`; "
                     f"`mimtax run {s.nearest_impl.split(',')[0].strip()}`)." if s.nearest_impl else ""), ""]
        members = papers.iloc[s.members][["id", "title", "year", "novelty"]]
        lines += _table(members) + [""]
    lines += ["## Papers that fit no node", ""]
    if cfg.get("p_threshold") is None:
        lines += [f"Novelty {cfg.get('novelty', 'not scored')}.", ""]
    else:
        lines += [f"`novelty`: share of new papers among each paper's {cfg['k_nearest']} nearest neighbours; "
                  f"`novel` when its binomial p < {cfg['p_threshold']} (calibrated on the corpus: about "
                  f"{cfg['alpha']:.0%} of papers that do fit are flagged). `atypical`: share of corpus papers "
                  "closer to their neighbours than this one is to the corpus.", ""]
    best_cols = [c for c in papers.columns if c.endswith("_best") or c.endswith("_score")]
    novel = papers[papers["novel"]] if len(papers) else papers
    lines += _table(novel[["id", "title", "year", "novelty", "novelty_p", "atypical", *best_cols]]
                    .sort_values(["novelty_p", "id"], kind="stable")) + [""]
    lines += ["## Fastest-growing nodes", "", "Each new paper counted at its best node (leaf level).", ""]
    for tax, frame in report.growth.groupby("taxonomy", sort=True):
        grown = frame[frame["new_papers"] > 0].sort_values(["growth", "new_papers", "node"],
                                                           ascending=[False, False, True], kind="stable")
        lines += [f"**{tax}**", ""] + _table(grown.head(GROWTH_ROWS).drop(columns=["taxonomy"])) + [""]
    main = cfg.get("taxonomy")
    if main and len(papers) and f"{main.replace('-', '_')}_best" in papers:
        column = f"{main.replace('-', '_')}_best"
        lines += [f"## New papers per node ({main})", ""]
        for node, members in papers.groupby(column, sort=True):
            entries = ", ".join(f"{short_title(t)} ({s:.2f}{', novel' if n else ''})" for t, s, n in
                                zip(members["title"], members[column.replace("_best", "_score")], members["novel"]))
            lines.append(f"- `{node}` ({len(members)}): {entries}")
        lines.append("")
    table = trend_table(report)
    if not table.empty:
        lines += [f"## Trends ({main}): papers per year per top-level node, corpus + new (every node: the JSON)", ""]
        lines += _table(table.reset_index().rename(columns={"name": "node"}).rename(columns=str)) + [""]
        if trends_png:
            lines += [f"![papers per year]({trends_png})", ""]
    lines += ["## How this was computed", "", "```json", json.dumps(cfg, indent=1), "```", ""]
    return "\n".join(lines)


def whats_new_dict(report: WhatsNew) -> dict:
    papers = report.papers.copy()
    if "year" in papers:
        papers["year"] = papers["year"].astype("string").fillna("")
    growth = report.growth.replace({np.inf: None})
    return {
        "config": report.config,
        "duplicates": report.duplicates.to_dict("records"),
        "near_duplicates": report.near_duplicates.to_dict("records"),
        "suggestions": [dict(id=f"S{i}", name=s.name, terms=s.terms, p_value=s.p_value,
                             members=papers["id"].iloc[s.members].tolist(),
                             nearest_nodes={t: {"node": n, "cosine": c} for t, (n, c) in s.nearest_nodes.items()},
                             nearest_impl=s.nearest_impl, nearest_impl_paper=s.nearest_impl_paper)
                        for i, s in enumerate(report.suggestions, 1)],
        "papers": json.loads(papers.to_json(orient="records", force_ascii=False)),
        "placements": report.placements.drop(columns=["paper"], errors="ignore").to_dict("records"),
        "growth": growth.to_dict("records"),
        "trends": report.trends.to_dict("records"),
    }


OUTPUTS = ("trends.png", "whats-new.json", "whats-new.md", "whats-new.html")


_OPENERS = {"\u202a": "\u202c", "\u202b": "\u202c", "\u202d": "\u202c", "\u202e": "\u202c",
            "\u2066": "\u2069", "\u2067": "\u2069", "\u2068": "\u2069"}
_CLOSERS = {"\u202c", "\u2069"}


def short_title(title: str, width: int = 70) -> str:
    """A title cut at a word with an ellipsis (not mid-word), its bidirectional-text controls balanced: an
    embedding or isolate the cut left open is closed, a closer left without its opener is dropped, so a right-to-
    left title cannot reverse the rest of the line."""
    title = str(title)
    if len(title) > width:
        cut = title[:width - 1]
        cut = cut.rsplit(" ", 1)[0] if " " in cut else cut
        title = cut.rstrip(" ,:;-") + "…"
    out, open_ = [], []
    for ch in title:
        if ch in _OPENERS:
            open_.append(_OPENERS[ch])
        elif ch in _CLOSERS:
            if not open_ or open_[-1] != ch:
                continue
            open_.pop()
        out.append(ch)
    if title.endswith("…") and open_:
        out.pop()  # the ellipsis goes after the closers, outside the embedded run
        return "".join(out) + "".join(reversed(open_)) + "…"
    return "".join(out) + "".join(reversed(open_))


def write_whats_new(report: WhatsNew, out: str | Path, pictures: bool = True) -> list[Path]:
    """whats-new.json / .md / .html (and trends.png), all changed together or none; files mimtax did not write
    are refused."""
    import io

    from taxonomy.fsutil import check_outputs, check_writable, write_outputs_together

    out = Path(out)
    check_writable(out)
    check_outputs(out / name for name in OUTPUTS)
    png = None
    if pictures and not report.trends.empty:
        from taxonomy.update.plots import plot_trends

        buffer = io.BytesIO()
        plot_trends(top_level(report.trends), buffer)
        png = buffer.getvalue()
    markdown = whats_new_markdown(report, "trends.png" if png else None)
    from taxonomy.update.page import markdown_page

    texts = {"whats-new.json": json.dumps(whats_new_dict(report), indent=1, ensure_ascii=False, default=str) + "\n",
             "whats-new.md": markdown,
             "whats-new.html": markdown_page(markdown, "What's new", {"trends.png": png} if png else {})}
    files = {"trends.png": png} if png else {}
    files.update({name: text.encode("utf-8") for name, text in texts.items()})
    return write_outputs_together(out, {name: (lambda fh, data=data: fh.write(data)) for name, data in files.items()},
                                  "update")
