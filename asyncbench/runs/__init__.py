"""A run: one split through one provider, wired from a source, the engine, a provider
client, the results store and the reporting. Imports every stage below it; nothing but
the CLI imports it. A batch drives many runs in one loop (scheduler); a run cut into shards
runs them on other processes (procs) or Ray nodes (ray_exec), with this process the single
writer (sharded, shard_worker).
"""
