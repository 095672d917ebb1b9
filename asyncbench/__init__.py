"""asyncbench: benchmark speech-to-text endpoints on the Open ASR Leaderboard sets.

The package is grouped by stage, in the order data flows. Each line: what the package owns,
then what it may import (never anything above it; `tests/test_layers.py` enforces this):

- `core`      error kinds, secret redaction, retry/backoff, pacing, endpoint lists, shard
              hashing, model ids from file names — imports nothing of asyncbench.
- `sources`   samples: streaming `datasets` loader, dataset-viewer pager, audio preparation,
              hub-layout writer, demo speech, watermarks — imports `core`.
- `scoring`   leaderboard normalisation, WER, RTFx, tables; never torch or the network —
              imports `core`.
- `results`   the JSONL results store (write, pre-scan, repair) and its `.meta.json`
              manifest — imports `core`.
- `providers` one client per provider on raw aiohttp, plus the registry — imports `core`,
              `sources`.
- `servers`   local servers that speak the protocols: pocketsphinx `serve` and the strict
              `mock` — imports `core`, `sources`.
- `engine`    the worker pipeline, the endpoint pool, run counters; knows no provider by
              name — imports `core`, `sources`, `results`, `providers`.
- `reporting` progress view, summaries, the HTML report and its figures — imports `core`,
              `sources`, `results`, `scoring`, `engine`.
- `runs`      one split end to end (source, engine, client, store, reporting) — imports
              every stage above.
- `cli`       the commands; imports every stage; nothing imports it.

Kept import-free on purpose: `asyncbench --help` and scoring must never pay for torch,
torchcodec or datasets.
"""

__version__ = "0.1.0"
