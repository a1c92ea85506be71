"""The shape of the `mimtax` command: every command a module defines is one `mimtax --help` lists, in the order a
reader looks for them, and loading the command line stays light."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

from tests.conftest import ROOT

COMMANDS = ["enrich", "dendrogram", "embed", "run", "verify", "categories", "query", "place", "audit", "update",
            "leaderboard", "corpus", "export"]


def _mimtax(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "taxonomy", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env)


def _listed(help_text: str) -> list[str]:
    """Command names from the 'Commands' box of a typer help screen, in order."""
    box = help_text.split("Commands", 1)[1]
    names = []
    for line in box.splitlines()[1:]:
        words = line.strip("│ ").split()
        if line.startswith("╰"):
            break
        if words and line.startswith("│ ") and not line.startswith("│  "):  # a continuation line is indented
            names.append(words[0])
    return names


def test_help_lists_every_command_in_order():
    out = _mimtax("--help")
    assert out.returncode == 0, out.stderr
    assert _listed(out.stdout) == COMMANDS
    corpus, export = _mimtax("corpus", "--help"), _mimtax("export", "--help")
    assert _listed(corpus.stdout) == ["info", "validate", "import"] and _listed(export.stdout) == ["latex"]


def test_every_command_a_module_defines_is_registered():
    """A public function in a command module is a command: one left unregistered would be unreachable."""
    from taxonomy import cli
    from taxonomy.cli import corpus, dendrogram, explore, update, verify

    registered = {info.callback for app in (cli.app, cli.corpus_app, cli.export_app)
                  for info in app.registered_commands}
    defined = {f for module in (corpus, dendrogram, explore, update, verify)
               for name, f in inspect.getmembers(module, inspect.isfunction)
               if f.__module__ == module.__name__ and not name.startswith("_")}
    assert len(defined) == 15 and defined == registered


def test_loading_the_command_line_imports_nothing_heavy():
    code = ("import sys, taxonomy.cli\n"
            "heavy = [m for m in ('torch', 'sentence_transformers', 'matplotlib', 'scipy.cluster', 'sklearn')"
            " if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
