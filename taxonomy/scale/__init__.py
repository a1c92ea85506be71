"""Beyond one machine: embed a whole field into resumable shards (locally, on Ray, or as a Slurm array) and
build its tree from the shards by memory map. Ray is optional (`pip install -e ".[scale]"`) and imported only
by `--engine ray`."""

from taxonomy.scale.embed import embed_records, parse_shard_spec
from taxonomy.scale.shards import ShardedVectors, shard_key
from taxonomy.scale.sources import read_records

__all__ = ["embed_records", "parse_shard_spec", "ShardedVectors", "shard_key", "read_records"]
