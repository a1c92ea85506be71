"""The `mimtax` command line: a thin layer over the library API.

The commands live in one module per job, each registered here in the order `mimtax --help` lists them:
`dendrogram` (dendrogram, embed, enrich), `explore` (categories, query, place, audit, leaderboard), `update`
(update, export latex), `corpus` (corpus info / validate / import) and `verify` (run, verify); `_common` holds the
console, the shared options and the --format writers.

User mistakes raise UserError; `main` prints them in one line and exits 1 without a traceback.
"""

from __future__ import annotations

import sys

import typer

from taxonomy.cli import corpus, dendrogram, explore, update, verify
from taxonomy.cli._common import _reader_left
from taxonomy.errors import UsageError, UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="A living taxonomy of masked image modeling.")
corpus_app = typer.Typer(no_args_is_help=True, help="Inspect and validate a corpus.")
app.add_typer(corpus_app, name="corpus")
export_app = typer.Typer(no_args_is_help=True, help="Figures and tables for a survey.")
app.add_typer(export_app, name="export")


def _print_version(value: bool) -> None:
    if value:
        from taxonomy import __version__

        print(f"mimtax {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")) -> None:
    """A living taxonomy of masked image modeling."""


# every command, in the order `mimtax --help` lists them (typer keeps this order; groups come last)
corpus_app.command("info")(corpus.corpus_info)
corpus_app.command("validate")(corpus.corpus_validate)
corpus_app.command("import")(corpus.corpus_import)
app.command()(dendrogram.enrich)
app.command()(dendrogram.dendrogram)
app.command()(dendrogram.embed)
app.command()(verify.run)
app.command()(verify.verify)
app.command()(explore.categories)
app.command()(explore.query)
app.command()(explore.place)
app.command()(explore.audit)
app.command()(update.update)
export_app.command("latex")(update.export_latex)
app.command()(explore.leaderboard)


INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C


def _interrupted() -> None:
    """Say so and exit 130. CPython remembers a Ctrl-C that escaped any `exec` of a string (dataclasses and
    namedtuples are made that way while modules import) and then ends the process by SIGINT whatever the exit
    code; a fresh `exec` of a string clears that memory, so the documented 130 holds."""
    print("interrupted", file=sys.stderr)
    exec("")  # noqa: S102 - resets CPython's unhandled-KeyboardInterrupt flag (see the docstring)
    sys.exit(INTERRUPTED)


def _one_line(message: str) -> str:
    """An error stays on one line even when it quotes a value with a newline or a control character in it."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in message)


def _io_failed(exc: OSError) -> None:
    """A full disk, a read-only folder, a closed or full standard output: one line and exit 1, no traceback.
    Standard output then goes to /dev/null so the interpreter's final flush does not fail a second time."""
    import os

    from taxonomy.fsutil import describe_os_error

    message = describe_os_error(exc)
    if not exc.filename and not sys.stdout.isatty():  # every file mimtax writes names itself; was it stdout?
        try:
            os.write(sys.stdout.fileno(), b"\n")
        except OSError:
            message = f"cannot write standard output: {message}"
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    print(f"error: {_one_line(message)}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    import sqlite3

    try:
        code = app(standalone_mode=False)
        sys.stdout.flush()  # a full or closed standard output shows here, not in the interpreter's last flush
    except UserError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        sys.exit(2 if isinstance(exc, UsageError) else 1)
    except KeyboardInterrupt:
        _interrupted()
    except BrokenPipeError:
        _reader_left()
    except OSError as exc:
        _io_failed(exc)
    except sqlite3.Error as exc:  # the abstract store on a full or read-only disk
        print(f"error: abstract store: {_one_line(str(exc))}", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # usage errors from typer's click: shown without a traceback
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code if exc.exit_code else 2)
        raise
    if code == INTERRUPTED:  # typer turns Ctrl-C inside a command into this code, silently
        _interrupted()
    sys.exit(code if isinstance(code, int) else 0)
