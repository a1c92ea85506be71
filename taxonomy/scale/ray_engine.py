"""The Ray engine: an ActorPool of embedders, each loading the model once, fed one shard at a time."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

import numpy as np

from taxonomy.errors import UserError
from taxonomy.scale.embed import default_workers, in_flight_limit
from taxonomy.scale.shards import Shard

CPUS_PER_WORKER = 1


def _start(address: str | None) -> bool:
    """Connect to a cluster (`address`, e.g. 'auto' on a Ray node) or start a local one; True if we started
    it (and so stop it afterwards)."""
    try:
        import ray
    except ImportError:
        raise UserError('--engine ray needs Ray: pip install -e ".[scale]"') from None
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    else:  # a small object store: shards are a few MB and pass through one at a time
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, object_store_memory=256 * 2**20,
                 logging_level=logging.ERROR, log_to_driver=False)
    return True


def run_on_ray(shards: Iterator[Shard], write: Callable[[Shard, np.ndarray], None], model: str,
               workers: int | None = None, device: str = "cpu", address: str | None = None) -> None:
    import ray
    from ray.util import ActorPool

    started = _start(address)
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0)) if device.startswith("cuda") else 0
        count = workers or default_workers({"CPU": ray.cluster_resources().get("CPU", 1), "GPU": gpus},
                                           CPUS_PER_WORKER)
        actor = ray.remote(num_cpus=CPUS_PER_WORKER, num_gpus=1 if gpus else 0)(Embedder)
        pool = ActorPool([actor.remote(model, "cuda" if gpus else "cpu", CPUS_PER_WORKER) for _ in range(count)])
        handed: dict[int, Shard] = {}
        limit = in_flight_limit(count)

        def collect() -> None:
            index, vectors = pool.get_next_unordered()
            write(handed.pop(index), vectors)

        for shard in shards:
            if len(handed) >= limit:
                collect()
            handed[shard.index] = shard
            pool.submit(lambda a, s: a.embed.remote(s.index, s.texts), shard)
        while handed:
            collect()
    finally:
        if started:
            ray.shutdown()


class Embedder:
    """A Ray actor: the model loaded once, then any number of shards."""

    def __init__(self, model: str, device: str, threads: int):
        import torch

        from taxonomy.clustering.embeddings import SentenceEncoder

        torch.set_num_threads(max(1, threads))
        self.encoder = SentenceEncoder(model, device=device)

    def embed(self, index: int, texts: list[str]) -> tuple[int, np.ndarray]:
        return index, self.encoder.encode(texts, progress=False).astype(np.float16)
