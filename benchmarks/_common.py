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


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"command": "python " + " ".join(sys.argv), **machine(), **payload}
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path
