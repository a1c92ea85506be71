"""Query the corpus by category, facet, year, venue, code and free text; returns plain DataFrames.

Without `search`, nothing heavy is imported (no torch, no sentence-transformers): answering a filter query is
a pandas operation on a 385-row table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from taxonomy.corpus.facets import UNKNOWN
from taxonomy.corpus.folder import Corpus, load_corpus, split_labels
from taxonomy.corpus.reported import REFERENCE_BACKBONE, best_results  # noqa: F401 - re-exported
from taxonomy.errors import UserError

# the shipped corpus's columns; a corpus with other taxonomies shows its own label columns after "venue"
COLUMNS = ["id", "method", "title", "year", "venue", "awesome_mim", "mim_survey", "target", "masking", "backbone",
           "in1k_ft_top1", "reference_impl", "code_url"]
SORTS = ("year", "-year", "title", "method", "venue", "top1", "-top1", "score")


def parse_years(text: str) -> tuple[int | None, int | None]:
    """'2023' -> (2023, 2023); '2022..2024'; '2022..' ; '..2021'."""
    m = re.fullmatch(r"\s*(\d{4})?\s*(\.\.)?\s*(\d{4})?\s*", text or "")
    if not m or not (m.group(1) or m.group(3)) or (m.group(2) is None and m.group(3)):
        raise UserError(f"--year '{text}': expected YEAR or FROM..TO (e.g. 2022..2024, 2022.., ..2021)")
    lo = int(m.group(1)) if m.group(1) else None
    hi = int(m.group(3)) if m.group(3) else (lo if m.group(2) is None else None)
    if lo and hi and lo > hi:
        raise UserError(f"--year '{text}': {lo} is after {hi}")
    return lo, hi


def category_nodes(corpus: Corpus, category: str, taxonomy: str | None) -> dict[str, list[str]]:
    """Node ids per taxonomy matching `category` (id, name or aspect; with descendants)."""
    names = [taxonomy] if taxonomy else list(corpus.taxonomies)
    found = {name: corpus.taxonomy(name).resolve(category) for name in names}
    found = {k: v for k, v in found.items() if v}
    if not found:
        suggestions = [s for name in names for s in corpus.taxonomy(name).suggest(category)]
        hint = f"; did you mean {', '.join(repr(s) for s in dict.fromkeys(suggestions))}?" if suggestions else ""
        raise UserError(f"unknown category '{category}'" + (f" in taxonomy '{taxonomy}'" if taxonomy else "") + hint)
    return found




def _facet(frame: pd.DataFrame, column: str, value: str | None) -> pd.Series:
    """Papers whose `column` facet matches `value` (a whole value or one of its '+'-joined parts); unknowns never
    match."""
    if not value:
        return pd.Series(True, index=frame.index)
    wanted = value.lower()
    known = sorted({part for v in frame[column].str.lower() if v and v != UNKNOWN
                    for part in [v, *re.split(r"[+/ ]", v)] if part})
    if known and not any(wanted == k or (len(wanted) > 3 and wanted in k) for k in known):
        from difflib import get_close_matches

        close = get_close_matches(wanted, known, n=1)
        carried = int(((frame[column] != "") & (frame[column] != UNKNOWN)).sum())
        raise UserError(f"--{column} '{value}': no paper has this value"
                        + (f" (did you mean '{close[0]}'?)" if close else "")
                        + f"; known: {', '.join(known)}; {carried} of {len(frame)} papers carry a {column} facet")
    return frame[column].str.lower().map(lambda v: v not in ("", UNKNOWN) and (
        wanted in re.split(r"[+/ ]", v) or wanted == v or (len(wanted) > 3 and wanted in v)))


def query(corpus: Corpus | str | Path | None = None, *, taxonomy: str | None = None, category: str | None = None,
          target: str | None = None, masking: str | None = None, backbone: str | None = None,
          modality: str | None = None, curated_only: bool = False, include_unknown: bool = False,
          year: str | None = None,
          venue: str | None = None, has_code: bool | None = None,
          has_impl: bool | None = None, search: str | None = None, abstracts: str | Path | None = None,
          sort: str | None = None, limit: int | None = None, cache_dir=None) -> pd.DataFrame:
    """Papers matching every given filter, one row each (columns: see COLUMNS, plus `score` with search).

    Facet filters match the curated values and the confident inferred ones (`taxonomy.corpus.facets`: a facet whose
    cross-validated accuracy reaches 0.85); `curated_only` keeps the curated ones alone. The others show as
    'unknown' and are left out of a facet filter unless `include_unknown`; how many were left out is in
    `frame.attrs["left_out"]` (papers, and how many of them are outside masked modelling). The `inferred` column
    names the facets of a row that were inferred; `in_scope` says whether the paper is masked modelling."""
    from taxonomy.corpus.facets import FACETS, compute_facets, facet_table, is_confident

    if not isinstance(corpus, Corpus):
        corpus = load_corpus(corpus)
    facets = compute_facets(corpus)
    scoped = facets.attrs["in_scope"]
    usable = facets["provenance"] == "curated" if curated_only else is_confident(facets)
    facets = facets.assign(value=facets["value"].where(usable, UNKNOWN),
                           provenance=facets["provenance"].where(usable, "unknown"))
    table = facet_table(facets).set_index("id").reindex(corpus.papers["id"]).fillna(UNKNOWN)
    papers = corpus.papers.assign(**{f: table[f].to_numpy() for f in FACETS},
                                  inferred=table["inferred"].replace(UNKNOWN, "").to_numpy())
    keep = pd.Series(True, index=papers.index)
    if taxonomy:
        corpus.taxonomy(taxonomy)
    if category:
        nodes = category_nodes(corpus, category, taxonomy)
        hit = pd.Series(False, index=papers.index)
        for name, ids in nodes.items():
            column = corpus.taxonomy(name).label_column
            wanted = set(ids)
            hit |= papers[column].map(lambda v: bool(wanted.intersection(split_labels(v))))
        keep &= hit
    facet_filters = {"target": target, "masking": masking, "backbone": backbone, "modality": modality}
    matched = pd.Series(True, index=papers.index)
    unknown = pd.Series(False, index=papers.index)
    for facet, value in facet_filters.items():
        if value:
            hit = _facet(papers, facet, value)
            missing = papers[facet] == UNKNOWN
            matched &= hit | missing
            unknown |= missing
    left_out = matched & unknown
    if year:
        lo, hi = parse_years(year)
        years = papers["year"]
        keep &= years.notna() & (years >= (lo or 0)) & (years <= (hi or 9999))
    if venue:
        keep &= papers["venue"].str.lower().str.contains(venue.lower(), regex=False)
    if has_code is not None:
        keep &= (papers["code_url"] != "") == has_code
    if has_impl is not None:
        keep &= (papers["reference_impl"] != "") == has_impl
    left_out &= keep
    keep &= matched & (~unknown | include_unknown)
    outside = papers["id"].map(lambda pid: scoped.get(pid) is False)
    text, value = best_results(corpus)
    out = pd.DataFrame({
        "id": papers["id"], "method": papers["short_name"], "title": papers["title"], "year": papers["year"],
        "venue": papers["venue"], **{t.label_column: papers[t.label_column] for t in corpus.taxonomies.values()},
        "target": papers["target"], "masking": papers["masking"], "backbone": papers["backbone"],
        "modality": papers["modality"], "inferred": papers["inferred"],
        "in_scope": papers["id"].map(scoped),
        "in1k_ft_top1": papers["id"].map(text).fillna(""), "reference_impl": papers["reference_impl"],
        "code_url": papers["code_url"],
    })
    out["_top1"] = papers["id"].map(value)
    if search:
        from taxonomy.explore.search import semantic_scores

        out["score"] = semantic_scores(corpus, search, abstracts=abstracts, cache_dir=cache_dir)
    out = out[keep]
    out = _sort(out, sort or ("score" if search else "-year"))
    if limit is not None:
        out = out.head(limit)
    out = out.drop(columns=["_top1"]).reset_index(drop=True)
    out.attrs["left_out"] = {"papers": 0 if include_unknown else int(left_out.sum()),
                             "outside_masked_modelling": 0 if include_unknown else int((left_out & outside).sum()),
                             "facets": [facet for facet, value in facet_filters.items() if value]}
    return out


def _sort(frame: pd.DataFrame, sort: str) -> pd.DataFrame:
    if sort not in SORTS:
        raise UserError(f"--sort '{sort}': choose one of {', '.join(SORTS)}")
    if sort == "score" and "score" not in frame:
        raise UserError("--sort score needs --search")
    key, ascending = sort.lstrip("-"), not sort.startswith("-")
    column = {"top1": "_top1"}.get(key, key)
    if key == "score":
        ascending = False
    return frame.sort_values([column, "id"], ascending=[ascending, True], kind="stable", na_position="last")
