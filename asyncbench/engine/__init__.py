"""The engine: one event loop, a bounded pipeline from samples to workers, the endpoint pool
(per-endpoint concurrency, pacing, health) and the run's counters. Knows no provider by name:
it drives the `providers.base` interface. Imports `core`, `sources`, `results`, `providers`.
"""
