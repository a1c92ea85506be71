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
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise UserError(f"{path}:{number}: -: not UTF-8 text (save the file as UTF-8 JSON lines)") from None
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise UserError(f"{path}:{number}: -: invalid {what} ({getattr(exc, 'msg', 'nested too deeply')})") from None
