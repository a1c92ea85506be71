"""What every command shares: the console (tables that fit the terminal, no trailing spaces when piped), the
--corpus and --force options, and the --format writers (table, CSV, JSON, Markdown)."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from taxonomy.errors import UserError


def _reader_left() -> None:
    """The reader of a pipe left (`mimtax categories | head -1`): that is not an error. Standard output goes to
    /dev/null so the interpreter's final flush does not fail again, and the command ends with success."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Rich's own handling would exit 1."""
        _reader_left()

    def print(self, *objects, **kwargs) -> None:
        """Piped or redirected: the same text without the trailing spaces rich pads table cells with."""
        if self.is_terminal:
            return super().print(*objects, **kwargs)
        with self.capture() as captured:
            super().print(*objects, **kwargs)
        try:
            self.file.write("\n".join(line.rstrip() for line in captured.get().split("\n")))
            self.file.flush()
        except BrokenPipeError:
            self.on_broken_pipe()


console = _Console() if sys.stdout.isatty() else _Console(width=200)


def _allow_replacing(force: bool) -> None:
    """--force: this command may replace files that mimtax did not write (never a folder, link or device)."""
    from taxonomy.fsutil import _FORCE

    _FORCE.set(force)


ForceOption = typer.Option(False, "--force", help="Replace existing files of the same names that mimtax did not "
                                                  "write (never a folder, link or device).")
CorpusOption = typer.Option(None, "--corpus", help="Corpus folder (papers.csv + taxonomies/); default: shipped data.")


# the narrowest a column is cut to before the others give up room: a title stays readable, a taxonomy label
# ("fundamental/transformers") whole; columns not named here keep 10, label-like ones (with '_') 24
TABLE_FLOORS = {"title": 30, "id": 12, "method": 12, "year": 4, "venue": 8}


def _table(title: str, frame, columns: list[str]) -> Table:
    """One line a row: a cell too long for the terminal ends in an ellipsis (rich takes the room from the widest
    columns first, so a long title is cut before a short label is)."""
    columns = [c for c in columns if len(frame) == 0 or frame[c].astype(str).str.strip().ne("").any()]  # no empties
    table = Table(title=title, show_edge=False, title_justify="left")
    widths = {col: max([len(str(col)), *(len(str(v)) for v in frame[col])]) for col in columns}
    label = {col: "_" in col or col == "node" for col in columns}
    room = console.width - 3 * len(columns)  # " │ " between columns
    # the widest column above its floor gives a character; floors fall in steps: first every column keeps a
    # readable width, then all but taxonomy labels give more, then any column does
    for step in (lambda c: TABLE_FLOORS.get(c, 24 if label[c] else 10),
                 lambda c: 24 if label[c] else min(TABLE_FLOORS.get(c, 8), 16) // 2 + 4, lambda c: 4):
        floors = {col: min(widths[col], step(col)) for col in columns}
        while sum(widths.values()) > room:
            above = [c for c in columns if widths[c] > floors[c]]
            if not above:
                break
            widths[max(above, key=widths.get)] -= 1
    for col in columns:
        table.add_column(col, justify="right" if frame[col].dtype.kind in "iuf" else "left", no_wrap=True,
                         overflow="ellipsis", width=widths[col])
    for row in frame[columns].itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    return table


FORMATS = ("table", "csv", "json", "markdown")


def _check_format(fmt: str) -> None:
    """Before any work: an unknown --format should not cost a whole computation."""
    if fmt not in FORMATS:
        raise UserError(f"--format '{fmt}': choose table, csv, json or markdown")


def _emit(frame, fmt: str, title: str) -> None:
    """Print a DataFrame as a table, CSV, JSON or Markdown."""
    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False, lineterminator="\n"))
    elif fmt == "json":
        import json

        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        sys.stdout.write(json.dumps(records, indent=1, ensure_ascii=False, default=str) + "\n")
    elif fmt == "markdown":
        cols = list(frame.columns)
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in frame.itertuples(index=False)]
        sys.stdout.write("\n".join(lines) + "\n")
    elif fmt == "table":
        console.print(_table(title, frame.astype(str), list(frame.columns)))
    else:
        raise UserError(f"--format '{fmt}': choose table, csv, json or markdown")
