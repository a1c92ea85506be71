"""File-system checks shared by the commands that write outputs (kept free of heavy imports)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from taxonomy.errors import UserError


def check_writable(out: Path) -> None:
    """Fail before any work when the output folder cannot be created or written."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: is a file, not a folder; give --out a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=out, prefix=".probe-", delete=True).close()
    except OSError as exc:
        raise UserError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None


@contextlib.contextmanager
def output_folder(out: Path) -> Iterator[Path]:
    """Check that `out` can be written; if this command created it and fails, remove it again when it is
    still empty (a failed run leaves no empty folder behind; never removes a file)."""
    out = Path(out)
    created = not out.exists()
    check_writable(out)
    try:
        yield out
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()  # only succeeds on an empty folder
        raise


_SCRATCH = re.compile(r"^\.(staging|painter)-(\d+)-")


def scratch_folder(out: Path, kind: str) -> Path:
    """A private scratch folder inside `out`, named after this process so a later run can tell whether its
    writer is still alive (`remove_stale_scratch`)."""
    return Path(tempfile.mkdtemp(prefix=f".{kind}-{os.getpid()}-", dir=out))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def remove_stale_scratch(out: Path) -> list[Path]:
    """Remove scratch folders that a killed run (SIGKILL, power loss) left in `out`: only ours (by name) and
    only when the process that made them is gone."""
    removed = []
    if not Path(out).is_dir():
        return removed
    for item in Path(out).iterdir():
        match = _SCRATCH.match(item.name)
        if match and item.is_dir() and not item.is_symlink() and not _alive(int(match.group(2))):
            shutil.rmtree(item, ignore_errors=True)
            removed.append(item)
    return removed


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


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file through a uniquely named temporary file in the same folder, then rename it over `path`:
    readers see the old file or the new one, never half of one, and two writers never share a scratch file.
    The file gets the mode a plain `open` would give it (mkstemp's are 0600)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))
