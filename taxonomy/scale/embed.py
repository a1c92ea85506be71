"""`mimtax embed`: records to shards, by one of three engines over the same plan.

- `local`: this process, one model.
- `ray`: a pool of Ray actors, each loading the model once (one per GPU where the cluster has GPUs, else
  CPU workers); the driver streams the input, hands each missing shard to a free actor and writes what comes
  back, so the cluster needs no shared disk. Ray Core's ActorPool, not Ray Data's `map_batches`: a shard must
  have the same records on every run to be found again by its key, and Ray Data's batches follow its blocks.
- `--shard i/N` (any engine): only the shards whose number is i modulo N, so N tasks of a Slurm array share
  the work without Ray, each writing its own shards into one folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from taxonomy.errors import UserError
from taxonomy.scale.shards import Shard, write_plan
from taxonomy.scale.sources import read_records

ENGINES = ("local", "ray")


@dataclass
class EmbedSummary:
    shards: int = 0  # in the plan
    computed: int = 0  # by this run
    skipped: int = 0  # already written, by an earlier run or another task
    others: int = 0  # left to other tasks of a --shard i/N array
    records: int = 0
    computed_keys: list[str] = field(default_factory=list)


def parse_shard_spec(spec: str | None) -> tuple[int, int]:
    """'i/N' -> (i, N), with 0 <= i < N; None -> (0, 1)."""
    if spec is None:
        return 0, 1
    try:
        i, n = (int(part) for part in spec.split("/"))
    except ValueError:
        raise UserError(f"--shard {spec}: expected i/N, e.g. 0/8 (task i of N, counting from 0)") from None
    if n < 1 or not 0 <= i < n:
        raise UserError(f"--shard {spec}: expected 0 <= i < N")
    return i, n


def _say_id_field(path: Path):
    def say(field: str) -> None:
        import sys

        print(f"note: {path}: no `id` field; using `{field}` as the record id (choose another with --id-field)",
              file=sys.stderr)
    return say


def plan_shards(path: Path, out: Path, model: str, shard_size: int, id_field: str | None = None) -> Iterator[Shard]:
    """Shards of `shard_size` consecutive records, in input order (the last may be shorter)."""
    index = 0
    for chunk in read_records(path, chunk=shard_size, id_field=id_field, on_id_field=_say_id_field(path)):
        yield Shard(out, model, index, chunk)
        index += 1


class LocalEncoder:
    """The model in this process (loaded on first use, so a run with nothing left to do loads nothing)."""

    def __init__(self, model: str, device: str = "cpu"):
        self.model, self.device, self._encoder = model, device, None

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self._encoder is None:
            from taxonomy.clustering.embeddings import SentenceEncoder

            self._encoder = SentenceEncoder(self.model, device=self.device)
        return self._encoder.encode(texts, progress=False)


def embed_records(path: str | Path, out: str | Path, model: str = "minilm", engine: str = "local",
                  shard_size: int = 1024, shard: tuple[int, int] = (0, 1), workers: int | None = None,
                  device: str = "cpu", ray_address: str | None = None, progress: bool = True,
                  on_shard: Callable[[Shard], None] | None = None, id_field: str | None = None) -> EmbedSummary:
    """Embed every record of `path` into shards under `out`; shards already there are skipped. `on_shard` is
    called after each shard is written (a progress hook; an exception there stops the run like a kill)."""
    path, out = Path(path), Path(out)
    if engine not in ENGINES:
        raise UserError(f"--engine {engine}: choose one of {', '.join(ENGINES)}")
    if model in ("tfidf", "lsa"):
        raise UserError(f"--embedding {model}: shards hold neural embeddings; {model} is fitted on the whole corpus")
    if shard_size < 1:
        raise UserError(f"--shard-size {shard_size}: expected a number above 0")
    from taxonomy.fsutil import check_outputs, check_writable
    from taxonomy.scale.shards import PLAN
    from taxonomy.scale.sources import check_source

    check_source(path)  # before the model loads (seconds)
    check_writable(out)
    check_outputs([out / PLAN])
    if (out / "shards").exists() and not (out / "shards").is_dir():
        raise UserError(f"{out / 'shards'}: is not a folder; mimtax keeps the shards there (choose another --out)")
    task, tasks = shard
    summary = EmbedSummary()
    keys: list[tuple[str, int]] = []

    def pending() -> Iterator[Shard]:
        for planned in plan_shards(path, out, model, shard_size, id_field):
            keys.append((planned.key, len(planned.ids)))
            summary.shards += 1
            summary.records += len(planned.ids)
            if planned.index % tasks != task:
                summary.others += 1
            elif planned.done():
                summary.skipped += 1
            else:
                yield planned

    from rich.progress import Progress

    with Progress(transient=True, disable=not progress) as bar:
        job = bar.add_task(f"embedding {path.name} ({engine})", total=None)

        def advance(planned: Shard, vectors: np.ndarray) -> None:
            planned.write(vectors)
            summary.computed += 1
            summary.computed_keys.append(planned.key)
            if on_shard is not None:
                on_shard(planned)
            bar.update(job, description=f"embedding {path.name} ({engine}): {summary.computed} shards, "
                                        f"{summary.skipped} already there")

        if engine == "local":
            encode = LocalEncoder(model, device)
            for planned in pending():
                advance(planned, encode(planned.texts))
        else:
            import itertools

            from taxonomy.scale.ray_engine import run_on_ray

            queue = pending()
            first = next(queue, None)
            if first is not None:  # nothing left to do starts no cluster
                run_on_ray(itertools.chain([first], queue), advance, model, workers=workers, device=device,
                           address=ray_address)
    write_plan(out, model, shard_size, str(path), keys)
    return summary


def in_flight_limit(workers: int) -> int:
    """Shards handed out at once: two per worker keeps every worker busy without reading far ahead."""
    return 2 * max(1, workers)


def default_workers(resources: dict, cpus_per_worker: int) -> int:
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return gpus
    return max(1, int(resources.get("CPU", os.cpu_count() or 1)) // cpus_per_worker)

