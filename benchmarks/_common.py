"""Shared helpers for benchmark scripts: machine description and result files."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    return {"machine": platform.node() or "unknown", "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "date": date.today().isoformat()}


def save(name: str, payload: dict, path: Path | None = None) -> Path:
    """The result file (`results/NAME.json`, or `path`), with the command and machine; written and renamed, so
    a benchmark that rewrites it as it goes and is stopped leaves a whole file."""
    from taxonomy.fsutil import write_text_atomic

    if path is None:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{name}.json"
    payload = {"command": "python " + " ".join(sys.argv), **machine(), **payload}
    write_text_atomic(Path(path), json.dumps(payload, indent=1) + "\n")
    return Path(path)
