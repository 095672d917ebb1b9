"""The bare Python floor of a client: decode FLAC to 16 kHz WAV, POST it, check the answer.

    .venv/bin/python bench/floor_client.py --mode floor --dataset DIR --endpoints "h:p ..." \
        --workers 256 --n 3000

What `bench/client_cost.py` holds asyncbench's CPU against: the least a Python client can do
for one request on this workload, with nothing of asyncbench's (no results file, no
retries, no progress, no pool), so the difference is what asyncbench itself costs.

- `decode`: every clip's FLAC bytes through libsndfile to a 16 kHz mono PCM16 WAV (header +
  samples), nothing sent;
- `post`: the WAVs decoded up front (not counted), then `--workers` coroutines on uvloop
  POST them over one aiohttp session and read each reply's text;
- `floor`: both: each coroutine decodes its next clip, then POSTs it;
- `decode-asyncbench`: every clip through asyncbench's own `to_wav16k`, in one thread, to
  set its decoder against the floor's;
- `decode-drflac` and `floor-drflac`: `decode` and `floor` with dr_flac (miniaudio's compiled
  module) in place of libsndfile: the floor of a client that decodes as asyncbench now does,
  so what asyncbench spends above decode + POST shows whichever decoder both use.

The clips' FLAC bytes are read from the hub folder's parquet with pyarrow before the clock
starts. The child prints one JSON line: `work_cpu_s` (user + system CPU of the measured
phase, from `getrusage`), `n` and how many answers were wrong (each reply must be the
clip's own reference: the benchmark server answers with the clip's watermark).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench.host import cpu_s


def read_clips(dataset: Path, n: int) -> list[tuple[bytes, str]]:
    """(FLAC bytes, reference) of the first n rows of the folder's parquet files."""
    import pyarrow.parquet as pq

    out: list[tuple[bytes, str]] = []
    for path in sorted(dataset.glob("*/*.parquet")):
        table = pq.read_table(path, columns=["audio", "text"])
        for audio, text in zip(
            table.column("audio").to_pylist(), table.column("text").to_pylist(), strict=True
        ):
            out.append((audio["bytes"], text))
            if len(out) == n:
                return out
    return out


_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")


def decode(flac: bytes) -> bytes:
    """16 kHz mono PCM16 WAV bytes of a FLAC clip: libsndfile, one header, one copy."""
    import soundfile as sf

    pcm, rate = sf.read(io.BytesIO(flac), dtype="int16")
    return _wav(pcm.tobytes(), rate)


def _wav(body: bytes, rate: int) -> bytes:
    """A mono PCM16 WAV of `body`: its 44-byte header, then the samples."""
    n = len(body)
    head = _HEADER.pack(
        b"RIFF", 36 + n, b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16, b"data", n
    )
    return head + body


def decode_drflac(flac: bytes) -> bytes:
    """The same with dr_flac: one call decodes the whole clip, one header, one copy."""
    from _miniaudio import ffi, lib

    channels, rate = ffi.new("unsigned int *"), ffi.new("unsigned int *")
    frames = ffi.new("ma_dr_flac_uint64 *")
    pcm = lib.ma_dr_flac_open_memory_and_read_pcm_frames_s16(
        flac, len(flac), channels, rate, frames, ffi.NULL
    )
    if pcm == ffi.NULL:
        raise ValueError("dr_flac cannot decode a clip")
    try:
        body = ffi.buffer(pcm, 2 * frames[0] * channels[0])[:]
    finally:
        lib.ma_dr_flac_free(pcm, ffi.NULL)
    return _wav(body, rate[0])


async def post_all(
    items: list[tuple[bytes, str]],
    urls: list[str],
    workers: int,
    *,
    decoder: Callable[[bytes], bytes] | None,
) -> int:
    """POST every item (decoding it first with `decoder` when given) with `workers`
    coroutines; how many answers were wrong."""
    import aiohttp

    wrong = 0
    it = iter(enumerate(items))
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal wrong
            for i, (body, reference) in it:
                data = decoder(body) if decoder else body
                async with session.post(
                    urls[i % len(urls)], data=data, headers={"Content-Type": "wave"}
                ) as reply:
                    got = orjson.loads(await reply.read()).get("text")
                wrong += got != reference

        await asyncio.gather(*(worker() for _ in range(workers)))
    return wrong


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--mode",
        choices=("floor", "decode", "post", "decode-asyncbench", "decode-drflac", "floor-drflac"),
        required=True,
    )
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--endpoints", default="", help="space-separated host:port list")
    ap.add_argument("--workers", type=int, default=256)
    ap.add_argument("--n", type=int, required=True)
    args = ap.parse_args(argv)
    import uvloop

    from asyncbench.sources.audio import to_wav16k

    clips = read_clips(args.dataset, args.n)
    urls = [f"http://{e}/asr/transcribe" for e in args.endpoints.split()]
    wrong = 0
    if args.mode == "post":
        clips = [(decode(flac), text) for flac, text in clips]  # not counted
    start, wall = cpu_s(), time.monotonic()
    if args.mode == "decode":
        for flac, _ in clips:
            decode(flac)
    elif args.mode == "decode-asyncbench":
        for flac, _ in clips:
            to_wav16k(flac)
    elif args.mode == "decode-drflac":
        for flac, _ in clips:
            decode_drflac(flac)
    else:
        decoder = {"floor": decode, "floor-drflac": decode_drflac}.get(args.mode)
        wrong = uvloop.run(post_all(clips, urls, args.workers, decoder=decoder))
    work = cpu_s() - start
    line = {"mode": args.mode, "n": len(clips), "wrong": wrong, "work_cpu_s": work}
    line["work_wall_s"] = time.monotonic() - wall
    print(orjson.dumps(line).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
