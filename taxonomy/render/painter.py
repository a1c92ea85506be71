"""Draw the PNG pictures in a second process, so the two cores of a laptop or CI runner share the work.

`mimtax dendrogram` starts the painter first: it forks before anything heavy is imported, loads matplotlib and
its fonts while the parent embeds and clusters, draws `dendrogram.png` as soon as the tree exists (while the
parent computes the scores), then `bk_curve.png` once the scores exist. The parent meanwhile writes the other
files and the SVG. Where fork is unavailable (Windows, macOS spawn) `Painter.start` returns None and
`write_outputs` draws everything in one process. The pictures are identical either way.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomy.fsutil import scratch_folder

JOBS = {"tree": "dendrogram.png", "scores": "bk_curve.png"}


@dataclass
class PictureData:
    """The part of a Dendrogram the pictures use: plain data, so the drawing process never imports the
    pipeline (scikit-learn and friends) just to receive it."""

    n: int
    linkage: np.ndarray
    leaf_names: list[str]
    node_terms: dict[int, list[str]]
    node_names: dict[str, str]
    taxonomy: str | None
    config: dict
    papers: pd.DataFrame
    agreement: dict = field(default_factory=dict)
    baseline_agreement: dict = field(default_factory=dict)
    levels: list = field(default_factory=list)  # (level name, nodes) of the colouring taxonomy: guide lines
    figure_k: int | None = None  # the paper figure's cut ("figure" job)
    matches: dict = field(default_factory=dict)  # node -> (survey node, F1) for the paper figure


def picture_data(result, scores: bool = False, figure_k: int | None = None) -> PictureData:
    columns = [result.taxonomy.replace("-", "_")] if result.taxonomy else []
    matches = {}
    if figure_k:
        from taxonomy.clustering.labels import survey_matches

        matches = survey_matches(result.papers, result.linkage, result.taxonomies)
    return PictureData(result.n, result.linkage, result.leaf_names, result.node_terms, result.node_names,
                       result.taxonomy, result.config, result.papers[columns],
                       result.agreement if scores else {}, result.baseline_agreement if scores else {},
                       result.levels, figure_k, matches)


def job_files(kind: str, figure_k: int | None = None) -> list[str]:
    """The files a drawing job writes: the tree's PNG, the scores' PNG, or the paper figure's three formats."""
    if kind == "figure":
        from taxonomy.render.plotting import figure_names

        return figure_names(int(figure_k))
    return [JOBS[kind]]


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _serve(conn, folder: str) -> None:
    # Ctrl-C is the parent's to handle (it stops us through the pipe); SIGTERM, the parent's last resort, ends
    # us quietly. Both were blocked across the fork, so neither could reach the parent's Python handlers here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    import queue
    import threading

    from taxonomy.render import plotting

    # A reader thread takes every message off the pipe as soon as it comes: the scores picture's data is larger
    # than the pipe's buffer, and without it the parent's send blocked until the tree was drawn (0.4 s).
    inbox: queue.Queue = queue.Queue()

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except Exception:  # the parent is gone, or a job could not be read: end, and the parent sees why
                message = ("stop", None)
            inbox.put(message)
            if message[0] == "stop":
                return

    threading.Thread(target=read, daemon=True).start()
    plotting.warm_up()
    while True:
        kind, result = inbox.get()
        if kind == "stop":
            return
        files = [JOBS.get(kind, kind)]
        try:
            files = job_files(kind, getattr(result, "figure_k", None))
            target = Path(folder) / files[0]
            if kind == "tree":
                plotting.plot_dendrogram(result, png=target)
            elif kind == "figure":
                plotting.plot_cut_dendrogram(result, result.figure_k, [Path(folder) / f for f in files],
                                             result.matches)
            else:
                plotting.plot_bk_curve(result, target)
            conn.send(("ok", kind))
        except OSError as exc:  # a full disk or a read-only folder: the parent reports it as an I/O failure
            conn.send(("oserror", (exc.errno, exc.strerror, files[0])))
        except Exception as exc:  # reported by the parent, which owns the error handling
            conn.send(("error", f"drawing {files[0]} failed: {exc!r}"))


class Painter:
    """A forked drawing process with its own scratch folder inside the output folder."""

    def __init__(self, out: Path):
        self.folder = scratch_folder(out, "painter")
        self._process = None
        try:
            ctx = multiprocessing.get_context("fork")
            self._conn, child_end = ctx.Pipe()
            self._process = ctx.Process(target=_serve, args=(child_end, str(self.folder)), daemon=True)
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
            try:
                self._process.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a signal that came meanwhile arrives now
            child_end.close()
        except BaseException:  # Ctrl-C while starting: nobody holds this painter yet to close it, so clean up here
            if self._process is not None and self._process.pid is not None:
                self._process.terminate()
                self._process.join()
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self._sent: list[str] = []
        self._files: list[str] = []

    @classmethod
    def start(cls, out: str | Path) -> "Painter | None":
        """A painter, or None where forking is unavailable or unsafe (torch already started its threads)."""
        if not hasattr(os, "fork") or "torch" in sys.modules or os.environ.get("MIMTAX_NO_FORK"):
            return None
        return cls(Path(out))

    def draw(self, kind: str, result, figure_k: int | None = None) -> None:
        """Queue a picture: 'tree' (needs the tree and names), 'scores' (needs the agreement scores) or 'figure'
        (the tree cut at `figure_k`, for a paper)."""
        if kind not in self._sent:
            self._conn.send((kind, picture_data(result, scores=kind == "scores", figure_k=figure_k)))
            self._sent.append(kind)
            self._files += job_files(kind, figure_k)

    def collect(self, result, staging: Path) -> None:
        """Wait for both pictures and move them into `staging`."""
        for kind in JOBS:
            self.draw(kind, result)
        for _ in self._sent:
            try:
                status, message = self._conn.recv()
            except EOFError:
                raise RuntimeError(f"the drawing process ended early (exit code {self._process.exitcode})") from None
            if status == "oserror":
                number, reason, name = message
                raise OSError(number, reason, str(staging.parent / name))
            if status != "ok":
                raise RuntimeError(message)
        for name in self._files:
            os.replace(self.folder / name, staging / name)

    def close(self) -> None:
        try:
            self._conn.send(("stop", None))
        except (BrokenPipeError, OSError):
            pass
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._conn.close()
        shutil.rmtree(self.folder, ignore_errors=True)
