"""Sample source for `--use_url`: one split paged from the Hugging Face dataset viewer API.

The viewer (`/splits`, `/size`, `/rows`) hands out rows whose audio cell is a list of signed
asset URLs, so a run needs neither `datasets` nor a local copy. Three things the seed got
wrong are done right here (see PROTOCOLS.md §10):

- The row count is the split's own entry in `/size`'s `size.splits[]` (or `num_rows_total`
  from `/rows`), never the config-level `num_rows`: for librispeech that is test.clean plus
  test.other, and paging by it runs past the end of the split.
- Pages are fetched lazily, one when the engine asks for more samples, because the asset
  URLs are signed and expire; a URL that has expired anyway is refreshed by fetching its row
  again (`ViewerSource.fetch_audio`).
- The audio entry is chosen by its `type` (WAV when offered: older viewers put an MP3 first),
  not by position.

References go through the same scorable-reference filter as local mode
(`dataset.is_scorable_reference`), so both modes score the same samples. The seeds did not
filter in URL mode; we do, on purpose, and the end-of-run summary counts what was dropped.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from asyncbench.core.errors import ConfigError, PermanentError, ProviderError, TransientError
from asyncbench.core.retry import backoff_delay, retry_after_from_headers
from asyncbench.sources.dataset import (
    Sample,
    SourceStats,
    digest,
    is_scorable_reference,
    text_of,
    unique_id,
)

if TYPE_CHECKING:
    import aiohttp

DEFAULT_URL = "https://datasets-server.huggingface.co"
URL_ENV = "HF_DATASETS_SERVER_URL"
TOKEN_ENV = "HF_TOKEN"
PAGE_ROWS = 100  # the viewer's largest `length`
DOWNLOADS_IN_FLIGHT = 64  # audio downloads at once: I/O, so many more than decode threads
WAV_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave"})
EXPIRED_STATUSES = frozenset({403, 404, 410})  # what a CDN answers for a stale signed URL


def viewer_base_url(flag: str | None = None) -> str:
    """`--viewer_url`, else `HF_DATASETS_SERVER_URL`, else the public viewer."""
    return (flag or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")


@dataclass(frozen=True, slots=True)
class AudioRef:
    src: str
    mime: str


def pick_audio(cell: Any) -> AudioRef | None:
    """The entry to use from an audio cell: WAV when offered, else the first.

    The cell is a list of `{"src", "type"}`; current viewers return one entry, older ones
    returned `[mp3, wav]`, so taking `[0]` (as the seeds do) can send a lossy MP3.
    """
    entries = cell if isinstance(cell, list) else [cell]
    refs = [
        AudioRef(e["src"], str(e.get("type") or ""))
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("src"), str) and e["src"]
    ]
    if not refs:
        return None
    return next((r for r in refs if r.mime.lower() in WAV_TYPES), refs[0])


def _error_text(body: bytes) -> str:
    """The viewer's `{"error": ...}` message, else the body itself, short."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        return doc["error"]
    text = " ".join(body.decode("utf-8", "replace").split())
    return text[:300] or "(empty body)"


class ViewerRefused(ConfigError):
    """The viewer answered a 4xx: a fact about the request (gated, missing, bad parameter)."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


class ViewerClient:
    """GET JSON from the viewer: bearer token when set, retries with backoff on 5xx and 429
    (honouring Retry-After) and on network errors. The token goes to the viewer only, never
    to asset URLs, and never into a message."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str | None,
        *,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        request_timeout: float = 60.0,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.request_timeout = request_timeout

    async def get(self, endpoint: str, params: Mapping[str, str | int], attempts: int) -> Any:
        import aiohttp

        url = f"{self.base_url}/{endpoint}"
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        last = ""
        for attempt in range(1, attempts + 1):
            retry_after = None
            try:
                async with self.session.get(
                    url, params=dict(params), headers=self._headers, timeout=timeout
                ) as resp:
                    status, body = resp.status, await resp.read()
                    retry_after = retry_after_from_headers(resp.headers)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if status == 200:
                    try:
                        return orjson.loads(body)
                    except orjson.JSONDecodeError:
                        last = f"HTTP 200 with a body that is not JSON: {_error_text(body)}"
                elif status == 429 or status >= 500:
                    last = f"HTTP {status}: {_error_text(body)}"
                else:
                    raise ViewerRefused(status, _error_text(body))
            if attempt < attempts:
                await asyncio.sleep(
                    backoff_delay(
                        attempt,
                        base=self.backoff_base,
                        cap=self.backoff_cap,
                        retry_after=retry_after,
                    )
                )
        raise ConfigError(
            f"the dataset viewer at {self.base_url} failed {attempts} times on /{endpoint} "
            f"({last}); check the network, or point {URL_ENV} / --viewer_url at a working viewer"
        )


class ViewerSource:
    """One split of a hub dataset, read through the viewer.

    `open()` checks the config and split and finds the row count; `batches()` is the async
    iterator of sample batches the engine reads, one `/rows` page per batch, fetched only
    when the engine wants more; `fetch_audio(sample)` downloads a sample's audio.
    """

    def __init__(
        self,
        client: ViewerClient,
        dataset: str,
        config: str,
        split: str,
        *,
        normalize: Callable[[str], str],
        skip_ids: set[str] | frozenset[str] = frozenset(),
        max_samples: int | None = None,
        stats: SourceStats | None = None,
        page_rows: int = PAGE_ROWS,
        open_attempts: int = 3,
        page_attempts: int = 8,
        download_attempts: int = 4,
    ) -> None:
        self.client = client
        self.dataset = dataset
        self.config = config
        self.split = split
        self.normalize = normalize
        self.skip_ids = skip_ids
        self.max_samples = max_samples
        self.stats = stats if stats is not None else SourceStats()
        self._seen_ids: dict[str, int] = {}  # rows sharing an id become id#2, ... (see dataset)
        self.page_rows = max(1, min(page_rows, PAGE_ROWS))
        # Few retries before the run starts (a wrong URL should fail fast), many once it runs
        # (a page lost mid-run ends the run).
        self.open_attempts = open_attempts
        self.page_attempts = page_attempts
        self.download_attempts = download_attempts
        self.num_rows: int | None = None

    # -- before the run ---------------------------------------------------------------------

    async def open(self) -> int | None:
        """Check that the split exists and can be read; return its row count when known."""
        await self._check_split()
        self.num_rows = await self._split_rows()
        return self.num_rows

    def _refused(self, exc: ViewerRefused) -> ConfigError:
        token_hint = (
            f"{TOKEN_ENV} is set: check that its account has accepted the dataset's conditions"
            if TOKEN_ENV in os.environ
            else f"if it is gated, accept its conditions on huggingface.co and export {TOKEN_ENV}"
        )
        return ConfigError(
            f"the dataset viewer cannot serve {self.dataset!r} (HTTP {exc.status}): "
            f"{exc.error} ({token_hint}; or drop --use_url to read it with datasets)"
        )

    async def _check_split(self) -> None:
        try:
            doc = await self.client.get("splits", {"dataset": self.dataset}, self.open_attempts)
        except ViewerRefused as exc:
            raise self._refused(exc) from None
        entries = doc.get("splits") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise ConfigError(f"the dataset viewer's /splits answer has no 'splits' list: {doc}")
        by_config: dict[str, list[str]] = {}
        for entry in entries:
            if isinstance(entry, dict):
                by_config.setdefault(str(entry.get("config")), []).append(str(entry.get("split")))
        if not by_config:
            state = "still being processed" if doc.get("pending") else "not available"
            raise ConfigError(
                f"the dataset viewer lists no splits for {self.dataset!r} ({state}); "
                "retry later, or drop --use_url to read it with datasets"
            )
        if self.config not in by_config:
            raise ConfigError(
                f"unknown config {self.config!r} for {self.dataset} on the dataset viewer; "
                f"available configs: {', '.join(by_config)}"
            )
        if self.split not in by_config[self.config]:
            raise ConfigError(
                f"unknown split {self.split!r} for {self.dataset} config {self.config!r} on the "
                f"dataset viewer; available splits: {', '.join(by_config[self.config])}"
            )

    async def _split_rows(self) -> int | None:
        """The split's own `num_rows` from `/size`; None when the viewer has no size yet (the
        first `/rows` page's `num_rows_total` then bounds the paging)."""
        params = {"dataset": self.dataset, "config": self.config}
        try:
            doc = await self.client.get("size", params, self.open_attempts)
        except ViewerRefused as exc:
            if exc.status in (401, 403):
                raise self._refused(exc) from None
            return None
        except ConfigError:
            return None  # /size not computed (5xx): /rows still knows the total
        size = doc.get("size") if isinstance(doc, dict) else None
        splits = size.get("splits") if isinstance(size, dict) else None
        for entry in splits if isinstance(splits, list) else []:
            if (
                isinstance(entry, dict)
                and entry.get("config") == self.config
                and entry.get("split") == self.split
                and isinstance(entry.get("num_rows"), int)
            ):
                return int(entry["num_rows"])
        return None

    # -- during the run ---------------------------------------------------------------------

    async def _page(self, offset: int, length: int) -> dict[str, Any]:
        params = {
            "dataset": self.dataset,
            "config": self.config,
            "split": self.split,
            "offset": offset,
            "length": length,
        }
        try:
            doc = await self.client.get("rows", params, self.page_attempts)
        except ViewerRefused as exc:
            raise self._refused(exc) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
            raise ConfigError(
                f"the dataset viewer's /rows answer for {self.dataset} {self.config}/"
                f"{self.split} offset {offset} has no 'rows' list"
            )
        return doc

    async def batches(self) -> AsyncIterator[list[Sample]]:
        """Sample batches in split order, one `/rows` page each, never past the split's end.

        `max_samples` counts scorable samples from the start of the split, finished ones
        included, exactly as local mode does, so a resumed run covers the same samples.
        """
        limit = self.num_rows
        offset = taken = 0
        while limit is None or offset < limit:
            if self.max_samples is not None and taken >= self.max_samples:
                return
            length = self.page_rows if limit is None else min(self.page_rows, limit - offset)
            page = await self._page(offset, length)
            total = page.get("num_rows_total")
            if isinstance(total, int):
                limit = total if limit is None else min(limit, total)
            rows = page["rows"]
            if not rows:
                return
            out: list[Sample] = []
            for item in rows:
                row_idx = item.get("row_idx", offset) if isinstance(item, dict) else offset
                row = item.get("row") if isinstance(item, dict) else None
                row = row if isinstance(row, dict) else {}
                self.stats.rows += 1
                reference = text_of(row)
                if not is_scorable_reference(reference, self.normalize):
                    self.stats.dropped_empty_reference += 1
                    continue
                if self.max_samples is not None and taken >= self.max_samples:
                    break
                taken += 1
                sample = self._sample(int(row_idx), row, reference)
                sample.id = unique_id(sample.id, self._seen_ids, self.stats, int(row_idx))
                if sample.id in self.skip_ids:
                    self.stats.skipped_done += 1
                    continue
                out.append(sample)
            offset += len(rows)
            if out:
                self.stats.yielded += len(out)
                yield out

    def _sample(self, row_idx: int, row: dict[str, Any], reference: str) -> Sample:
        """A sample with the same stable id local mode gives (`id` column, else the row)."""
        sid = row.get("id")
        length = row.get("audio_length_s")
        ref = pick_audio(row.get("audio"))
        return Sample(
            id=str(sid) if sid is not None else f"{self.config}/{self.split}/{row_idx}",
            index=row_idx,
            reference=reference,
            duration=float(length) if isinstance(length, int | float) else None,
            url=ref.src if ref else None,
            mime=ref.mime if ref else None,
            ref_sha=digest(reference),
        )

    async def refresh(self, sample: Sample) -> bool:
        """Fetch the sample's row again for a freshly signed URL; False if it has none."""
        page = await self._page(sample.index, 1)
        for item in page["rows"]:
            if isinstance(item, dict) and item.get("row_idx", sample.index) == sample.index:
                ref = pick_audio((item.get("row") or {}).get("audio"))
                if ref is not None:
                    sample.url, sample.mime = ref.src, ref.mime
                    return True
        return False

    async def fetch_audio(self, sample: Sample) -> bytes:
        """The sample's audio bytes, as they are. A signed URL that has expired (403/404/410)
        is refreshed once through `/rows`; a second refusal fails the sample (kind
        "download"), as do exhausted retries. Messages name the path, never the signature."""
        if sample.url is None:
            raise PermanentError("download", f"the viewer gave no audio URL for row {sample.index}")
        try:
            return await self._download(sample.url)
        except _Expired:
            pass
        try:
            fresh = await self.refresh(sample)
        except ConfigError as exc:
            raise TransientError("download", f"refreshing an expired URL failed: {exc}") from None
        if not fresh:
            raise PermanentError("download", f"row {sample.index} has no audio URL any more")
        try:
            return await self._download(sample.url)
        except _Expired as exc:
            raise PermanentError(
                "download",
                f"signed audio URL still refused after fetching its row again: "
                f"{_shown(sample.url)}",
                status=exc.status,
            ) from None

    async def _download(self, url: str) -> bytes:
        import aiohttp
        from yarl import URL

        timeout = aiohttp.ClientTimeout(total=self.client.request_timeout)
        # encoded=True: the signed URL goes out byte for byte, never re-quoted
        target = URL(url, encoded=True)
        err: ProviderError = TransientError("download", "not tried")
        for attempt in range(1, self.download_attempts + 1):
            retry_after = None
            try:
                async with self.client.session.get(target, timeout=timeout) as resp:
                    body = await resp.read()
                    status = resp.status
                    retry_after = retry_after_from_headers(resp.headers)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                err = TransientError("download", f"{why} for {_shown(url)}")
            else:
                if status == 200 and body:
                    return body
                if status in EXPIRED_STATUSES:
                    raise _Expired(status)
                detail = f"HTTP {status} for {_shown(url)}: {_error_text(body)}"
                if status == 200:
                    err = TransientError("download", f"empty body for {_shown(url)}")
                elif status == 429 or status >= 500:
                    err = TransientError("download", detail, status=status)
                else:
                    raise PermanentError("download", detail, status=status)
            if attempt < self.download_attempts:
                await asyncio.sleep(
                    backoff_delay(
                        attempt,
                        base=self.client.backoff_base,
                        cap=self.client.backoff_cap,
                        retry_after=retry_after,
                    )
                )
        raise err


class _Expired(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _shown(url: str) -> str:
    """A URL without its query: signatures are short-lived credentials."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


async def open_viewer_source(
    session: aiohttp.ClientSession,
    dataset: str,
    config: str,
    split: str,
    *,
    base_url: str | None,
    normalize: Callable[[str], str],
    skip_ids: set[str] | frozenset[str] = frozenset(),
    max_samples: int | None = None,
    stats: SourceStats | None = None,
) -> ViewerSource:
    """The run's source for `--use_url`, checked and counted (ConfigError if it cannot be)."""
    client = ViewerClient(session, viewer_base_url(base_url), os.environ.get(TOKEN_ENV) or None)
    source = ViewerSource(
        client,
        dataset,
        config,
        split,
        normalize=normalize,
        skip_ids=skip_ids,
        max_samples=max_samples,
        stats=stats,
    )
    await source.open()
    return source
