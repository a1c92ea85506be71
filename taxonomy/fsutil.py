"""File-system checks shared by the commands that write outputs (kept free of heavy imports)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

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


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file through a uniquely named temporary file in the same folder, then rename it over `path`:
    readers see the old file or the new one, never half of one, and two writers never share a scratch file.
    The file gets the mode a plain `open` would give it (mkstemp's are 0600)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))
