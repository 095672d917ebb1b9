"""Hugging Face dataset viewer protocol: `/splits`, `/size`, `/rows` and signed audio assets.

Serves the hub-layout folders (README `configs:` + parquet, what `hub_layout` writes and the
hub holds) found at `<viewer_root>/<dataset id>`, at the mock's root, so that
`HF_DATASETS_SERVER_URL=<mock>` runs `--use_url` offline. Faithful where clients go wrong
(PROTOCOLS.md §10):

- `/size` gives the config's total and each split's own `num_rows`; paging by the total runs
  past the end of a split (such requests are counted as `viewer.rows_past_end`).
- Audio cells are lists of `{src, type}`: one entry (the stored file when it is WAV or MP3,
  else converted to WAV) or, with `viewer_legacy_audio`, the older `[mp3, wav]` pair.
- Asset URLs carry `?expires=<ts>&sig=<hmac>` and are refused with 403 once expired, like the
  CDN behind the real viewer.
- A missing dataset, or a gated one (a `viewer` key configured) asked without that bearer
  token, gets the viewer's own `{"error": ...}` body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from asyncbench.servers.mock.state import MockState
from asyncbench.sources.audio import sniff
from asyncbench.sources.parquet_split import read_card

if TYPE_CHECKING:
    import pyarrow as pa

DatasetHandler = Callable[[web.Request, str, "_Dataset"], Awaitable[web.Response]]

NAME = "viewer"
MAX_LENGTH = 100
GATED = (
    "The dataset does not exist, or is not accessible without authentication (private or "
    "gated). Please check the spelling of the dataset name or retry with authentication."
)
EXPIRED_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
)


@dataclass
class _Split:
    files: list[Path]
    num_rows: int
    num_columns: int
    table: pa.Table | None = None


@dataclass
class _Dataset:
    configs: dict[str, dict[str, _Split]] = field(default_factory=dict)


def _load_layout(folder: Path) -> _Dataset | None:
    """The configs and splits a hub-layout folder declares, with row counts from parquet
    metadata (no audio is read)."""
    import pyarrow.parquet as pq

    readme = folder / "README.md"
    if not readme.is_file():
        return None
    out = _Dataset()
    card = read_card(folder) or {}  # no front matter, or YAML that does not parse: no configs
    for entry in card.get("configs") or []:
        if not isinstance(entry, dict) or "config_name" not in entry:
            continue
        splits: dict[str, _Split] = {}
        data_files = entry.get("data_files") or []
        for spec in data_files if isinstance(data_files, list) else [data_files]:
            split, patterns = (
                (spec.get("split", "train"), spec.get("path"))
                if isinstance(spec, dict)
                else ("train", spec)
            )
            pattern_list = patterns if isinstance(patterns, list) else [patterns]
            files = sorted(f for p in pattern_list if p for f in folder.glob(str(p)))
            metas = [pq.ParquetFile(f).metadata for f in files]
            splits[str(split)] = _Split(
                files,
                sum(m.num_rows for m in metas),
                metas[0].num_columns if metas else 0,
            )
        out.configs[str(entry["config_name"])] = splits
    return out


class _Viewer:
    """The served datasets (read on first use) and the asset URL signer."""

    def __init__(self, state: MockState) -> None:
        self.state = state
        self.secret = os.urandom(16)
        self.layouts: dict[str, _Dataset | None] = {}
        self.assets: dict[tuple[str, str, str, int, str], bytes] = {}

    # -- datasets ---------------------------------------------------------------------------

    def dataset(self, name: str) -> _Dataset | None:
        root = self.state.config.viewer_root
        if root is None or not name or ".." in name.split("/") or name.startswith("/"):
            return None
        if name not in self.layouts:
            self.layouts[name] = _load_layout(Path(root) / name)
        return self.layouts[name]

    async def table(self, split: _Split) -> pa.Table:
        if split.table is None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            loop = asyncio.get_running_loop()
            tables = [await loop.run_in_executor(None, pq.read_table, f) for f in split.files]
            split.table = pa.concat_tables(tables) if tables else pa.table({})
        return split.table

    # -- signed asset URLs ------------------------------------------------------------------

    def _sig(self, path: str, expires: str) -> str:
        return hmac.new(self.secret, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def sign(self, origin: str, path: str) -> str:
        # rounded down, so a URL with a TTL of 0 is expired at once, however fast the client
        until = time.time() + self.state.config.viewer_url_ttl
        expires = f"{math.floor(until * 1000) / 1000:.3f}"
        return f"{origin}{path}?expires={expires}&sig={self._sig(path, expires)}"

    def check(self, path: str, expires: str, sig: str) -> str | None:
        """None if the signature is good and fresh, else why not."""
        if not hmac.compare_digest(self._sig(path, expires), sig):
            return "bad signature"
        try:
            if time.time() >= float(expires):
                return "expired"
        except ValueError:
            return "bad expiry"
        return None

    def audio_cell(
        self, origin: str, dataset: str, config: str, split: str, row_idx: int, cell: Any
    ) -> list[dict[str, str]]:
        base = f"/assets/{dataset}/--/main/--/{config}/{split}/{row_idx}/audio"
        data = cell.get("bytes") if isinstance(cell, dict) else None
        stored, _ = sniff(data or b"")
        if self.state.config.viewer_legacy_audio:
            entries = [("mp3", "audio/mpeg"), ("wav", "audio/wav")]
        elif stored == "audio/mpeg":
            entries = [("mp3", "audio/mpeg")]
        else:
            entries = [("wav", "audio/wav")]  # WAV as stored, anything else converted
        return [{"src": self.sign(origin, f"{base}/audio.{ext}"), "type": t} for ext, t in entries]

    async def asset(self, key: tuple[str, str, str, int, str], data: bytes) -> bytes:
        """A row's audio as `ext`: the stored bytes when they already are that, else
        converted (WAV: lossless 16 kHz PCM16; MP3: lossy, the watermark does not survive)."""
        if key not in self.assets:
            loop = asyncio.get_running_loop()
            self.assets[key] = await loop.run_in_executor(None, _convert, data, key[-1])
        return self.assets[key]


def _convert(data: bytes, ext: str) -> bytes:
    from asyncbench.sources.audio import to_wav16k

    _, stored_ext = sniff(data)
    if stored_ext == ext:
        return data
    wav, _ = to_wav16k(data)
    if ext == "wav":
        return wav
    import numpy as np

    from asyncbench.sources.hub_layout import encode_audio

    return encode_audio(np.frombuffer(wav[44:], dtype="<i2"), 16000, ext)


def _error(status: int, message: str, code: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers={"X-Error-Code": code})


def _features(table: pa.Table) -> list[dict[str, Any]]:
    import json

    meta = (table.schema.metadata or {}).get(b"huggingface")
    known = json.loads(meta)["info"]["features"] if meta else {}
    return [
        {
            "feature_idx": i,
            "name": name,
            "type": known.get(name)
            or {"dtype": str(table.schema.field(name).type), "_type": "Value"},
        }
        for i, name in enumerate(table.column_names)
    ]


def add_routes(app: web.Application, state: MockState) -> None:
    viewer = _Viewer(state)

    def endpoint(path: str) -> Callable[[DatasetHandler], DatasetHandler]:
        """Route `path` to a handler of (request, dataset id, dataset), after counting the
        call, checking the token and finding the dataset."""

        def route(handler: DatasetHandler) -> DatasetHandler:
            async def serve(request: web.Request) -> web.Response:
                state.counters[f"{NAME}.{path}"] += 1
                state.last_request[NAME] = dict(request.headers)
                name = request.query.get("dataset", "")
                if not name:
                    return _error(
                        422, "Parameter 'dataset' is required", "MissingRequiredParameter"
                    )
                expected = state.config.keys.get(NAME)
                if expected is not None and state.bearer(request) != expected:
                    state.counters[f"{NAME}.401"] += 1
                    return _error(401, GATED, "ExternalUnauthenticatedError")
                found = viewer.dataset(name)
                if found is None:
                    return _error(404, GATED, "DatasetNotFoundError")
                return await handler(request, name, found)

            app.router.add_get(f"/{path}", serve)
            return handler

        return route

    @endpoint("splits")
    async def splits(request: web.Request, name: str, found: _Dataset) -> web.Response:
        only = request.query.get("config")
        items = [
            {"dataset": name, "config": config, "split": split}
            for config, by_split in found.configs.items()
            if only in (None, config)
            for split in by_split
        ]
        return web.json_response({"splits": items, "pending": [], "failed": []})

    @endpoint("size")
    async def size(request: web.Request, name: str, found: _Dataset) -> web.Response:
        only = request.query.get("config")
        if only is not None and only not in found.configs:
            return _error(404, "Not found.", "ResponseNotFound")
        splits = [
            {
                "dataset": name,
                "config": config,
                "split": split,
                "num_bytes_parquet_files": sum(f.stat().st_size for f in entry.files),
                "num_bytes_memory": 0,
                "num_rows": entry.num_rows,
                "num_columns": entry.num_columns,
            }
            for config, by_split in found.configs.items()
            if only in (None, config)
            for split, entry in by_split.items()
        ]

        def total(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
            return {
                "dataset": name,
                **extra,
                "num_bytes_original_files": sum(r["num_bytes_parquet_files"] for r in rows),
                "num_bytes_parquet_files": sum(r["num_bytes_parquet_files"] for r in rows),
                "num_bytes_memory": 0,
                "num_rows": sum(r["num_rows"] for r in rows),
            }

        if only is not None:
            body = {
                "config": total(
                    splits, config=only, num_columns=splits[0]["num_columns"] if splits else 0
                ),
                "splits": splits,
            }
        else:
            configs = [
                total([s for s in splits if s["config"] == c], config=c) for c in found.configs
            ]
            body = {"dataset": total(splits), "configs": configs, "splits": splits}
        return web.json_response({"size": body, "partial": False})

    @endpoint("rows")
    async def rows(request: web.Request, name: str, found: _Dataset) -> web.Response:
        config, split = request.query.get("config", ""), request.query.get("split", "")
        entry = found.configs.get(config, {}).get(split)
        if entry is None:
            return _error(404, "Not found.", "ResponseNotFound")
        try:
            offset = int(request.query.get("offset", "0"))
            length = int(request.query.get("length", str(MAX_LENGTH)))
        except ValueError:
            return _error(
                422, "Parameters 'offset' and 'length' must be integers", "InvalidParameter"
            )
        if offset < 0 or length < 0:
            return _error(
                422, "Parameters 'offset' and 'length' must be positive", "InvalidParameter"
            )
        if length > MAX_LENGTH:
            return _error(
                422, f"Parameter 'length' must not be greater than {MAX_LENGTH}", "InvalidParameter"
            )
        if offset >= entry.num_rows:
            state.counters[f"{NAME}.rows_past_end"] += 1
        table = await viewer.table(entry)
        origin = str(request.url.origin())
        out = []
        for k, row in enumerate(table.slice(offset, length).to_pylist()):
            row_idx = offset + k
            if "audio" in row:
                row["audio"] = viewer.audio_cell(origin, name, config, split, row_idx, row["audio"])
            out.append({"row_idx": row_idx, "row": row, "truncated_cells": []})
        return web.json_response(
            {
                "features": _features(table),
                "rows": out,
                "num_rows_total": entry.num_rows,
                "num_rows_per_page": MAX_LENGTH,
                "partial": False,
            }
        )

    async def asset(request: web.Request) -> web.Response:
        state.counters[f"{NAME}.assets"] += 1
        state.last_request[f"{NAME}.assets"] = dict(request.headers)
        path = request.path
        why = viewer.check(path, request.query.get("expires", ""), request.query.get("sig", ""))
        if why is not None:
            state.counters[f"{NAME}.{why.replace(' ', '_')}"] += 1
            return web.Response(status=403, body=EXPIRED_BODY, content_type="application/xml")
        try:
            dataset, _revision, rest = request.match_info["tail"].split("/--/")
            config, split, row, _column, filename = rest.split("/")
            row_idx = int(row)
        except ValueError:
            return web.Response(status=404, text="Not Found")
        ext = filename.rpartition(".")[2]
        found = viewer.dataset(dataset)
        entry = found.configs.get(config, {}).get(split) if found else None
        if entry is None or not 0 <= row_idx < entry.num_rows or ext not in ("wav", "mp3"):
            return web.Response(status=404, text="Not Found")
        state.counters[f"{NAME}.assets.{ext}"] += 1
        cell = (await viewer.table(entry)).slice(row_idx, 1).column("audio")[0].as_py()
        data = await viewer.asset((dataset, config, split, row_idx, ext), cell["bytes"])
        mime = "audio/mpeg" if ext == "mp3" else "audio/wav"
        return web.Response(body=data, content_type=mime)

    app.router.add_get("/assets/{tail:.+}", asset)
