"""File-system checks shared by the commands that write outputs (kept free of heavy imports)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from taxonomy.errors import UserError


def check_writable(out: Path) -> None:
    """Fail before any work when the output folder cannot be created or written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=out, prefix=".probe-", delete=True).close()
    except OSError as exc:
        raise UserError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None
