"""File-system checks shared by the commands that write outputs (kept free of heavy imports)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

from taxonomy.errors import UserError


def check_writable(out: Path) -> None:
    """Fail before any work when the output folder cannot be created or written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=out, prefix=".probe-", delete=True).close()
    except OSError as exc:
        raise UserError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None


def jsonl_objects(path: Path, what: str = "JSON") -> Iterator[tuple[int, object]]:
    """(line number, parsed value) for each non-empty line; invalid JSON is a one-line error naming file and line."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{number}: -: invalid {what} ({exc.msg})") from None
