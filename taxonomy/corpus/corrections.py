"""The user's own corrections to a corpus, kept in `corrections.yaml` beside papers.csv.

Survey labels come from upstream lists that a maintainer re-imports; a taxonomy's author also has opinions of
their own. Those live in one small file that mimtax reads every time the corpus is loaded and never writes, so
they survive re-imports and rebuilds, and every command (query, place, audit, dendrogram, update) sees the
corrected corpus. Three kinds, applied in this order:

    add:     # a node the survey lacks
      - {taxonomy: awesome-mim, id: fundamental/world-models, name: Image world models, parent: fundamental,
         description: predict the effect of transformations in latent space}
    rename:  # a node's display name (its id, and so every label, stays)
      - {taxonomy: awesome-mim, node: analysis, name: Analysis and understanding}
    move:    # a paper's labels in one taxonomy (a list to give several)
      - {paper: i-jepa, taxonomy: awesome-mim, to: fundamental/world-models}

A mistake is reported as `corrections.yaml:LINE: FIELD: message`, like any other corpus problem.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import yaml

from taxonomy.corpus.tree import Node, Taxonomy
from taxonomy.errors import Problem

CORRECTIONS_FILE = "corrections.yaml"
KINDS = ("add", "rename", "move")
FIELDS = {"add": ("taxonomy", "id", "name"), "rename": ("taxonomy", "node", "name"),
          "move": ("paper", "taxonomy", "to")}
LABEL_SEP = ";"


class _LineLoader(yaml.SafeLoader):
    """Safe YAML that remembers the line each mapping starts on (for error messages)."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def read_corrections(folder: Path) -> tuple[dict[str, list[dict]], list[Problem]]:
    """The entries of `corrections.yaml` by kind ({} when the file does not exist)."""
    path = folder / CORRECTIONS_FILE
    if not path.is_file():
        return {}, []
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except UnicodeDecodeError as exc:
        return {}, [Problem(str(path), 1, "-", f"not UTF-8 text ({exc.reason})")]
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", 0) + 1
        return {}, [Problem(str(path), line, "-", f"invalid YAML: {getattr(exc, 'problem', exc)}")]
    if doc is None:
        return {}, []
    if not isinstance(doc, dict):
        return {}, [Problem(str(path), 1, "-", "expected a mapping with 'add', 'rename' and/or 'move' lists")]
    problems, entries = [], {}
    for key, items in doc.items():
        if key == "__line__":
            continue
        if key not in KINDS:
            problems.append(Problem(str(path), doc["__line__"], str(key), f"unknown section '{key}'; expected "
                                    + ", ".join(KINDS)))
            continue
        if not isinstance(items, list):
            problems.append(Problem(str(path), doc["__line__"], key, "expected a list of entries"))
            continue
        for item in items:
            if not isinstance(item, dict):
                problems.append(Problem(str(path), doc["__line__"], key, f"each '{key}' entry must be a mapping "
                                        f"with {', '.join(FIELDS[key])}"))
                continue
            missing = [f for f in FIELDS[key] if not item.get(f)]
            if missing:
                problems.append(Problem(str(path), item["__line__"], missing[0], f"'{key}' entry needs "
                                        f"{', '.join(FIELDS[key])}"))
                continue
            entries.setdefault(key, []).append(item)
    return entries, problems


def correct_taxonomies(taxonomies: dict[str, Taxonomy], entries: dict[str, list[dict]],
                       path: Path) -> tuple[dict[str, Taxonomy], list[str], list[Problem]]:
    """Taxonomies with the added and renamed nodes; a line per applied correction; problems."""
    file = str(path / CORRECTIONS_FILE)
    out = dict(taxonomies)
    applied, problems = [], []

    def taxonomy_of(item: dict) -> Taxonomy | None:
        key = str(item["taxonomy"]).replace("_", "-").lower()
        if key not in out:
            problems.append(Problem(file, item["__line__"], "taxonomy", f"unknown taxonomy '{item['taxonomy']}'; "
                                    f"this corpus has: {', '.join(out) or 'none'}"))
            return None
        return out[key]

    for item in entries.get("add", []):
        tax = taxonomy_of(item)
        if tax is None:
            continue
        node_id, parent = str(item["id"]), item.get("parent")
        if node_id in tax.nodes:
            problems.append(Problem(file, item["__line__"], "id", f"node '{node_id}' already exists in '{tax.id}'"))
            continue
        if parent is not None and str(parent) not in tax.nodes:
            problems.append(Problem(file, item["__line__"], "parent", f"parent '{parent}' names no node of "
                                    f"'{tax.id}'"))
            continue
        depth = tax.nodes[str(parent)].depth + 1 if parent is not None else 0
        node = Node(node_id, str(item["name"]), str(item.get("description", "")), None if parent is None else
                    str(parent), depth)
        levels = tax.levels + [f"level {i}" for i in range(len(tax.levels), depth + 1)]
        out[tax.id] = replace(tax, nodes={**tax.nodes, node_id: node}, levels=levels)
        applied.append(f"added node {node_id} to {tax.id}")
    for item in entries.get("rename", []):
        tax = taxonomy_of(item)
        if tax is None:
            continue
        node_id = str(item["node"])
        if node_id not in tax.nodes:
            problems.append(Problem(file, item["__line__"], "node", f"node '{node_id}' not in '{tax.id}'"))
            continue
        old = tax.nodes[node_id]
        renamed = replace(old, name=str(item["name"]), upstream_name=old.upstream_name or old.name)
        out[tax.id] = replace(tax, nodes={**tax.nodes, node_id: renamed})
        applied.append(f"renamed {tax.id} node {node_id} to '{item['name']}'")
    return out, applied, problems


def correct_labels(papers: pd.DataFrame, taxonomies: dict[str, Taxonomy], entries: dict[str, list[dict]],
                   path: Path) -> tuple[pd.DataFrame, list[str], list[Problem]]:
    """Papers with the moved labels; a line per applied correction; problems."""
    file = str(path / CORRECTIONS_FILE)
    papers = papers.copy()
    applied, problems = [], []
    row_of = {pid: i for i, pid in enumerate(papers["id"])}
    for item in entries.get("move", []):
        key = str(item["taxonomy"]).replace("_", "-").lower()
        pid = str(item["paper"])
        if key not in taxonomies:
            problems.append(Problem(file, item["__line__"], "taxonomy", f"unknown taxonomy '{item['taxonomy']}'"))
            continue
        if pid not in row_of:
            problems.append(Problem(file, item["__line__"], "paper", f"unknown paper id '{pid}'"))
            continue
        tax = taxonomies[key]
        targets = [str(t) for t in (item["to"] if isinstance(item["to"], list) else [item["to"]])]
        unknown = [t for t in targets if t not in tax.nodes]
        if unknown:
            hint = tax.suggest(unknown[0], 1, ids=True)
            problems.append(Problem(file, item["__line__"], "to", f"'{unknown[0]}' names no node of '{tax.id}'"
                                    + (f" (did you mean '{hint[0]}'?)" if hint else "")))
            continue
        before = papers.at[row_of[pid], tax.label_column] if tax.label_column in papers else ""
        papers.loc[row_of[pid], tax.label_column] = LABEL_SEP.join(targets)
        applied.append(f"moved {pid} in {tax.id} from {before or '(none)'} to {LABEL_SEP.join(targets)}")
    return papers, applied, problems
