"""A survey taxonomy as a tree of named nodes, loaded from YAML.

A taxonomy file holds `id`, `name`, `levels` (one name per depth) and `nodes` (each with `id`, `name`,
`description`, optional `children` and, for survey B, `aspects`). The label column in papers.csv that refers
to a taxonomy is its id with '-' replaced by '_' (awesome-mim -> awesome_mim).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in: ten times faster

from taxonomy.errors import Problem


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    description: str
    parent: str | None
    depth: int
    aspects: tuple[str, ...] = ()
    upstream_name: str = ""


@dataclass
class Taxonomy:
    """A rooted tree of nodes; the root is implicit (depth 0 nodes are the top level)."""

    id: str
    name: str
    levels: list[str]
    nodes: dict[str, Node]
    aspects: dict[str, dict] = field(default_factory=dict)
    source: str = ""
    complete: bool = True  # False: some papers may carry no label here (an imported list with loose entries)

    @property
    def label_column(self) -> str:
        return self.id.replace("-", "_")

    def children(self, node_id: str | None) -> list[Node]:
        return [n for n in self.nodes.values() if n.parent == node_id]

    def roots(self) -> list[Node]:
        return self.children(None)

    def ancestors(self, node_id: str) -> list[str]:
        """Node ids from the top level down to `node_id`, inclusive."""
        path = []
        current: str | None = node_id
        while current is not None:
            path.append(current)
            current = self.nodes[current].parent
        return path[::-1]

    def descendants(self, node_id: str) -> list[str]:
        """`node_id` and every node below it."""
        out = [node_id]
        for child in self.children(node_id):
            out.extend(self.descendants(child.id))
        return out

    def leaves(self) -> list[Node]:
        parents = {n.parent for n in self.nodes.values()}
        return [n for n in self.nodes.values() if n.id not in parents]

    def at_level(self, label: str, level: int) -> str:
        """The node at depth `level` (0 = top) on the path to `label`; a shallower leaf stands for itself."""
        path = self.ancestors(label)
        return path[min(level, len(path) - 1)]

    def level_sizes(self) -> list[int]:
        """How many distinct nodes a partition at each level has (leaves shallower than a level count once)."""
        return [len({self.at_level(n.id, lv) for n in self.leaves()}) for lv in range(len(self.levels))]

    def tree_distance(self, a: str, b: str) -> int:
        """Edges between two nodes through their lowest common ancestor (the implicit root counts)."""
        pa, pb = self.ancestors(a), self.ancestors(b)
        common = 0
        for x, y in zip(pa, pb):
            if x != y:
                break
            common += 1
        return (len(pa) - common) + (len(pb) - common)

    def with_aspect(self, aspect: str) -> list[str]:
        """Every node whose aspects include `aspect` (survey B's combined categories)."""
        return [n.id for n in self.nodes.values() if aspect in n.aspects]

    def resolve(self, query: str) -> list[str]:
        """Node ids matching an id, display name or aspect name (case-insensitive), with their descendants."""
        q = query.strip().lower()
        hits: list[str] = []
        for node in self.nodes.values():
            if q in (node.id.lower(), node.name.lower(), node.upstream_name.lower()):
                hits.extend(self.descendants(node.id))
        for key, aspect in self.aspects.items():
            if q in (key.lower(), str(aspect.get("name", "")).lower()):
                for nid in self.with_aspect(key):
                    hits.extend(self.descendants(nid))
        if not hits:  # a word of a node's name: "video" finds "Video Representation"
            words = set(re.findall(r"[a-z0-9]+", q))
            for node in self.nodes.values():
                if words and words <= set(re.findall(r"[a-z0-9]+", node.name.lower())):
                    hits.extend(self.descendants(node.id))
        return list(dict.fromkeys(hits))

    def suggest(self, query: str, n: int = 3, ids: bool = False) -> list[str]:
        """Closest nodes (their names, or their ids with ids=True), for a 'did you mean' message."""
        candidates: dict[str, str] = {}
        for node in self.nodes.values():
            for key in (node.name, node.id, *re.findall(r"[A-Za-z0-9]+", node.name)):
                candidates.setdefault(key.lower(), node.id if ids else node.name)
        for key, aspect in self.aspects.items() if not ids else ():
            candidates.setdefault(str(aspect.get("name", key)).lower(), str(aspect.get("name", key)))
        close = difflib.get_close_matches(query.lower(), list(candidates), n=3 * n, cutoff=0.6)
        return list(dict.fromkeys(candidates[c] for c in close))[:n]


def _second_line_of(path: Path, node_id: str, occurrence: int = 2) -> int:
    """The line of the `occurrence`-th `id: <node_id>` in a taxonomy file (0 when it cannot be found)."""
    import re

    pattern = re.compile(r"^\s*(?:-\s*)?id:\s*['\"]?" + re.escape(node_id) + r"['\"]?\s*(?:#.*)?$")
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 0
    found = [number for number, line in enumerate(lines, 1) if pattern.match(line)]
    return found[occurrence - 1] if len(found) >= occurrence else 0


def parse_taxonomy(doc: object, path: Path) -> tuple[Taxonomy | None, list[Problem]]:
    """Build a Taxonomy from parsed YAML, reporting every structural problem."""
    problems: list[Problem] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
        return None, [Problem(str(path), 1, "nodes", "expected a mapping with a 'nodes' list")]
    for key in ("id", "name"):
        if not isinstance(doc.get(key), str) or not doc.get(key):
            problems.append(Problem(str(path), 1, key, f"taxonomy needs a non-empty '{key}'"))
    nodes: dict[str, Node] = {}

    def walk(items: list, parent: str | None, depth: int) -> None:
        for item in items:
            if not isinstance(item, dict) or not item.get("id") or not item.get("name"):
                problems.append(Problem(str(path), 0, "nodes", f"node under '{parent or 'root'}' needs an id and a name"))
                continue
            nid = str(item["id"])
            if nid in nodes:
                problems.append(Problem(str(path), _second_line_of(path, nid), "id", f"duplicate node id '{nid}' "
                                        f"(first at line {_second_line_of(path, nid, 1)})"))
                continue
            nodes[nid] = Node(nid, str(item["name"]), str(item.get("description", "")), parent, depth,
                              tuple(item.get("aspects", ()) or ()), str(item.get("upstream_name", "")))
            walk(item.get("children", []) or [], nid, depth + 1)

    walk(doc["nodes"], None, 0)
    aspects = doc.get("aspects", {}) or {}
    for node in nodes.values():
        for aspect in node.aspects:
            if aspect not in aspects:
                problems.append(Problem(str(path), 0, "aspects", f"node '{node.id}' names unknown aspect '{aspect}'"))
    depth = max((n.depth for n in nodes.values()), default=0) + 1
    levels = [str(x) for x in doc.get("levels", [])] or [f"level {i}" for i in range(depth)]
    if problems:
        return None, problems
    return Taxonomy(str(doc["id"]), str(doc["name"]), levels, nodes, aspects, str(doc.get("source", "")),
                    bool(doc.get("complete", True))), []


def load_taxonomy(path: str | Path) -> tuple[Taxonomy | None, list[Problem]]:
    path = Path(path)
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except UnicodeDecodeError as exc:
        return None, [Problem(str(path), 1, "-", f"not UTF-8 text ({exc.reason})")]
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", 0) + 1
        return None, [Problem(str(path), line, "-", f"invalid YAML: {getattr(exc, 'problem', exc)}")]
    return parse_taxonomy(doc, path)
