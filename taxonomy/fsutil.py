"""File-system checks shared by the commands that write outputs (kept free of heavy imports)."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from taxonomy.errors import UserError


def default_cache_dir() -> Path:
    """The cache folder: $MIMTAX_CACHE, else ~/.cache/mimtax (here, below every stage, so all may use it)."""
    env = os.environ.get("MIMTAX_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "mimtax"


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


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """A failed write through an open file handle says which file it was writing (a full disk names no file)."""
    try:
        yield
    except OSError as exc:
        if exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from None


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file through a uniquely named temporary file in the same folder, then rename it over `path`:
    readers see the old file or the new one, never half of one, and two writers never share a scratch file.
    The file gets the mode a plain `open` would give it (mkstemp's are 0600)."""
    path = Path(path)
    with _naming(path):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with _naming(path), os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


# --- outputs: replace only what mimtax wrote -------------------------------------------------------------------
#
# Every command that writes files a user receives goes through `write_outputs_together` / `write_output` (or
# `check_outputs` + `publish` when it stages files itself). Each output folder holds a small manifest naming the
# files mimtax wrote there; an existing file that is not in it is the user's and is never replaced unless the
# command was given --force, and a path that is not a regular file (a folder, a symlink, a device) never is.

MANIFEST = ".mimtax-manifest.json"
LEGACY_MANIFESTS = {"manifest.json": "mimtax dendrogram"}  # the dendrogram's own list, written before this one
_FORCE: contextvars.ContextVar[bool] = contextvars.ContextVar("mimtax_force", default=False)


@contextlib.contextmanager
def replacing_allowed(force: bool) -> Iterator[None]:
    """Within this block, outputs may replace existing files that mimtax did not write (the CLI's --force)."""
    token = _FORCE.set(bool(force))
    try:
        yield
    finally:
        _FORCE.reset(token)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def owned_files(folder: Path) -> set[str]:
    """Names of the files in `folder` that mimtax wrote (from its manifest, and the dendrogram's older one)."""
    folder = Path(folder)
    names: set[str] = set()
    doc = _read_json(folder / MANIFEST)
    if isinstance(doc, dict) and isinstance(doc.get("files"), dict):
        names |= {n for n in doc["files"] if isinstance(n, str)}
    for legacy, writer in LEGACY_MANIFESTS.items():
        doc = _read_json(folder / legacy)
        if isinstance(doc, dict) and doc.get("written_by") == writer and isinstance(doc.get("files"), list):
            names |= {n for n in doc["files"] if isinstance(n, str)} | {legacy}
    return {n for n in names if n == Path(n).name}


def _kind(path: Path) -> str | None:
    """What a non-regular path is, or None for a regular file or nothing at all."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), path.parent)
        raise UserError(f"{path.parent}: not writable ({blocker} is a file, not a folder)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be checked ({exc.strerror or exc})") from None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISFIFO(mode):
        return "named pipe"
    return "special file"


def check_outputs(paths: Iterable[Path], force: bool | None = None) -> None:
    """Fail, before anything is written, when an output would replace something that is not mimtax's:
    any path that is not a regular file, or a file not in its folder's manifest (unless `force`)."""
    force = _FORCE.get() if force is None else force
    owned: dict[Path, set[str]] = {}
    for path in map(Path, paths):
        kind = _kind(path)
        if kind is not None:
            raise UserError(f"{path}: is a {kind}, not a regular file; mimtax never replaces it (choose another "
                            "output name or folder)")
        if force or not path.exists():
            continue
        if path.parent not in owned:
            owned[path.parent] = owned_files(path.parent)
        if path.name not in owned[path.parent]:
            raise UserError(f"{path}: exists and was not written by mimtax; move it away or pass --force to "
                            "replace it")


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An advisory lock on the folder itself while its manifest is read and rewritten (none where unsupported)."""
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):  # pragma: no cover - Windows, or a folder we cannot open
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _update_manifest(folder: Path, command: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
    doc = _read_json(folder / MANIFEST)
    files = dict(doc["files"]) if isinstance(doc, dict) and isinstance(doc.get("files"), dict) else {}
    files.update({name: command for name in add})
    for name in remove:
        files.pop(name, None)
    text = json.dumps({"written_by": "mimtax", "note": "files mimtax wrote here; it replaces only these",
                       "files": dict(sorted(files.items()))}, indent=1) + "\n"
    write_text_atomic(folder / MANIFEST, text)


def forget_outputs(folder: Path, names: Iterable[str]) -> None:
    """Delete files mimtax wrote earlier (stale outputs) and drop them from the manifest."""
    folder, names = Path(folder), [n for n in names if n == Path(n).name]
    with _folder_lock(folder):
        for name in names:
            if _kind(folder / name) is None:
                (folder / name).unlink(missing_ok=True)
        _update_manifest(folder, "", remove=names)


def publish(folder: Path, staged: dict[str, Path], command: str) -> list[Path]:
    """Move staged files (temporary files on the same file system) to `folder/<name>` all together: the names
    are recorded in the manifest first, and a rename that fails puts back every file already replaced, so a
    failure leaves the previous set of outputs as it was. Checks each target again just before."""
    folder = Path(folder)
    targets = [folder / name for name in staged]
    backups: dict[Path, Path] = {}
    done: list[Path] = []
    with _folder_lock(folder):
        check_outputs(targets)
        try:
            old_manifest = (folder / MANIFEST).read_bytes()
        except OSError:
            old_manifest = None
        _update_manifest(folder, command, add=staged)
        try:
            for name, source in staged.items():
                target = folder / name
                if target.exists():
                    backup = folder / f".{name}.{os.getpid()}.old"
                    with contextlib.suppress(OSError):  # no hard links here: no way back for this one
                        os.link(target, backup)
                        backups[target] = backup
                os.replace(source, target)
                done.append(target)
        except BaseException:
            for target in reversed(done):
                with contextlib.suppress(OSError):
                    if target in backups:
                        os.replace(backups.pop(target), target)
                    else:
                        target.unlink()
            with contextlib.suppress(OSError):  # the manifest as it was, too
                if old_manifest is None:
                    (folder / MANIFEST).unlink()
                else:
                    write_atomic(folder / MANIFEST, lambda fh: fh.write(old_manifest))
            raise
        finally:
            for backup in backups.values():
                with contextlib.suppress(OSError):
                    backup.unlink()
    return targets


def write_outputs_together(folder: Path, files: dict[str, Callable[[BinaryIO], object]],
                           command: str = "mimtax") -> list[Path]:
    """Write several outputs so that they all change or none does: every file goes to a temporary file first
    (where a full disk shows), then `publish` renames them in."""
    folder = Path(folder)
    check_outputs(folder / name for name in files)
    staged: dict[str, Path] = {}
    try:
        for name, write in files.items():
            with _naming(folder / name):
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            staged[name] = Path(tmp)
            with _naming(folder / name), os.fdopen(fd, "wb") as fh:
                write(fh)
            os.chmod(tmp, 0o666 & ~current_umask())
        return publish(folder, staged, command)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


def write_output(path: Path, write: Callable[[BinaryIO], object], command: str = "mimtax") -> Path:
    """One output file, written through a temporary file and recorded in its folder's manifest."""
    path = Path(path)
    return write_outputs_together(path.parent, {path.name: write}, command)[0]


def write_output_text(path: Path, text: str, command: str = "mimtax") -> Path:
    return write_output(path, lambda fh: fh.write(text.encode("utf-8")), command)


# --- warnings said once ----------------------------------------------------------------------------------------

_WARNED: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """Print `warning: message` to standard error the first time `key` is seen in this process."""
    if key in _WARNED:
        return
    _WARNED.add(key)
    print(f"warning: {message}", file=sys.stderr)


def describe_os_error(exc: OSError) -> str:
    """`file: reason` in one line, for an I/O failure the user can act on (full disk, read-only, permissions)."""
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "") or str(exc)
    hint = {errno.ENOSPC: " (free some space and run again)", errno.EROFS: " (choose a writable folder)",
            errno.EACCES: " (choose a folder you may write)", errno.EPERM: " (choose a folder you may write)"}
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{reason}{hint.get(exc.errno, '')}"
