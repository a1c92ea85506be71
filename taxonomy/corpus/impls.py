"""Which reference implementation a group of papers points to: one of its members' own, or the nearest by
facets (recovery target, then masking) when none of its papers is implemented."""

from __future__ import annotations

from collections import Counter

import pandas as pd


def _methods():
    from reference_impls import METHODS  # the registry only; no torch

    return METHODS


def nearest_by_facets(papers: pd.DataFrame) -> str:
    """The registered method whose target and masking best match the group's facet counts."""
    methods = _methods()
    targets = Counter(t for v in papers["target"] for t in str(v).split("+") if t)
    maskings = Counter(v for v in papers["masking"] if v)
    if not targets and not maskings:
        return ""
    score = {name: 2 * targets.get(m.target, 0) + maskings.get(m.masking, 0) for name, m in methods.items()}
    best = max(score.values())
    return next(name for name in methods if score[name] == best) if best > 0 else ""


def group_implementations(papers: pd.DataFrame, groups, leaf_position=None) -> dict:
    """For each group: its members' implementations (', '-joined); else 'nearest: NAME' by facets; else, when
    no member has facets, the implemented paper closest in the tree's leaf order ('nearest in tree: NAME')."""
    out = {}
    frame = papers.assign(_group=list(groups))
    if leaf_position is not None:
        frame = frame.assign(_leaf=list(leaf_position))
    implemented = frame[frame["reference_impl"] != ""]
    for group, members in frame.groupby("_group", sort=True):
        own = sorted({m for m in members["reference_impl"] if m})
        near = nearest_by_facets(members) if not own else ""
        if own:
            out[group] = ", ".join(own)
        elif near:
            out[group] = f"nearest: {near}"
        elif leaf_position is not None and len(implemented):
            centre = members["_leaf"].median()
            closest = implemented.iloc[(implemented["_leaf"] - centre).abs().argsort(kind="stable").iloc[0]]
            out[group] = f"nearest in tree: {closest['reference_impl']}"
        else:
            out[group] = ""
    return out
