"""What made a run's numbers, for its results sidecar (`results/manifest.py`).

A WER is only worth what can be said about it: which tool version scored it with which
normaliser, which version of which dataset it read, which provider and model at which
endpoints, in which language, with which options, at which concurrency or arrival rate, from
which command, and when. All of it goes beside the results file before the first request, so
a file can always be traced back, and verify, score and the report show it. Secrets never go
in: endpoint URLs are masked (`core/redact.py`), and the command line is redacted with every
secret the run knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from asyncbench.core.redact import (
    argv_secrets,
    env_secrets,
    key_file_secrets,
    make_redactor,
    redact_url,
    url_secrets,
)

if TYPE_CHECKING:
    from asyncbench.sources.describe import DatasetDescription


def now_iso() -> str:
    """The wall clock in UTC, to the second (ISO 8601)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def scoring_entry(language: str) -> dict[str, str]:
    """The scoring family and the normaliser version the file will be scored with."""
    from asyncbench.scoring.language import normalizer_version
    from asyncbench.sources.describe import scoring_family

    return {"family": scoring_family(language), "normalizer_version": normalizer_version(language)}


def sidecar(
    cfg: Any,  # runs.runner.RunConfig (not imported: the runner imports this module)
    identity: dict[str, str],
    description: DatasetDescription,
    urls: Sequence[str],
    secrets: Sequence[str],
    argv: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The whole sidecar of a run: its identity (what resume compares) and its provenance."""
    from asyncbench import __version__
    from asyncbench.core import invocation

    argv = invocation.argv() if argv is None else list(argv)
    redact = make_redactor(
        [*secrets, *url_secrets(urls), *env_secrets(), *argv_secrets(argv), *key_file_secrets(argv)]
    )
    provider = cfg.model_name.split("/", 1)[0]
    arrival = cfg.arrival_spec()
    return {
        **identity,
        "tool_version": __version__,
        "scoring": scoring_entry(cfg.language or "en"),
        "dataset": description.sidecar(),
        "provider": provider,
        "endpoints": [redact(redact_url(u)) for u in urls],
        "options": {
            **{k: redact(str(v)) for k, v in sorted(cfg.options.items())},
            "max_samples": cfg.max_samples,
            "shard": None if cfg.shard is None else f"{cfg.shard[0]}/{cfg.shard[1]}",
            "use_url": cfg.use_url,
            "timeout": cfg.timeout,
            "max_retries": cfg.max_retries,
            "retry_failed": cfg.retry_failed,
            "chunking": cfg.chunking,
        },
        "arrival": {"process": cfg.arrival, "describe": arrival.describe(), "seed": cfg.seed}
        | ({"rate": cfg.rate} if cfg.rate is not None else {})
        | ({"burstiness": cfg.burstiness} if cfg.burstiness is not None else {})
        | ({"ramp": cfg.ramp} if cfg.ramp is not None else {}),
        "concurrency": {
            "max_workers": cfg.max_workers,
            "per_endpoint": cfg.per_endpoint_concurrency,
            "processes": cfg.processes,
            "rps": cfg.rps,
            "max_rps": cfg.max_rps,
        },
        "command": [redact(a) for a in argv],
        "started_at": now_iso(),
        "ended_at": None,
        "provider_model_version": None,
    }
