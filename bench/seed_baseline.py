"""The seed's way of running a split, reproduced for the benchmark's baseline (Aldea, local audio).

    .venv/bin/python bench/seed_baseline.py --dataset_path DIR --dataset bench --split test \\
        --model_name aldea/default --max_workers 300 --aldea_endpoints "127.0.0.1:18800 ..."

What it reproduces, step for step, from the leaderboard's `api/run_eval.py` as the Aldea fork
runs it (PEERS.md §1.1, PROTOCOLS.md §9), because these are what cap the seed's throughput:

- `datasets.load_dataset(..., streaming=False)`: the whole split is prepared into Arrow, cast to
  16 kHz, mapped to add `norm_text` and filtered (`prepare_data`), before the first request.
- `ThreadPoolExecutor(max_workers)` with the whole split submitted up front
  (`{executor.submit(process_sample, s) for s in ds}`), then `as_completed` with tqdm.
- per sample, in a worker thread: a temporary WAV written with soundfile from
  `sample["audio"]["array"]`, the duration from `len(array) / sampling_rate`, and again in the
  Aldea branch before sending — with datasets >= 4 every `["array"]` decodes the clip anew,
  exactly as the seed's code does on today's pinned versions;
- `requests.post(url, headers={"Content-Type": "wave"}, data=open(wav))` (a new connection
  per request: `requests.post` makes a throwaway session), round-robin over the endpoints
  under a lock, the JSON parse and the fork's transcript clean-up, up to 10 retries 1 s apart
  (the WAV rewritten on each retry), the temp file deleted;
- in the main thread, both texts normalised (Whisper's English normaliser, as the
  leaderboard's `normalizer` package) and one JSON line appended under a lock and flushed,
  with `audio_filepath` = `sample_<write index>` as the seed writes it.

Left out, each in the seed's favour: the other providers' SDKs it imports at start-up
(openai, assemblyai, elevenlabs, rev_ai, speechmatics, evaluate...), `--use_url`, and the
final WER (`evaluate` loads its metric from the network); the skip-by-line-count resume is
kept.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import json
import os
import re
import tempfile
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import datasets
import requests
import soundfile as sf
from tqdm import tqdm
from whisper_normalizer.english import EnglishTextNormalizer

# The leaderboard's `normalizer` package is Whisper's English normaliser; whisper-normalizer
# ships the same code and spelling table, so the baseline pays what the seed pays per call.
normalizer = EnglishTextNormalizer()

REQUEST_TIMEOUT = (10, 300)
MAX_RETRIES = 10
DEFAULT_ALDEA_URL = "https://api.aldea.ai/transcribe"


# -- endpoints: a cycle shared by all threads, advanced under a lock ------------------------


class RoundRobin:
    def __init__(self, endpoints: list[str]) -> None:
        self._cycle = itertools.cycle(endpoints) if endpoints else None
        self._lock = threading.Lock()

    def next(self) -> str | None:
        if self._cycle is None:
            return None
        with self._lock:
            return next(self._cycle)


def normalize_endpoint(spec: str) -> str:
    """The fork's rule: add http:// when there is no scheme, `/transcribe` when no path."""
    url = spec.strip()
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    if urlsplit(url).path in ("", "/"):
        url = url.rstrip("/") + "/transcribe"
    return url


def split_endpoints(raw: str) -> list[str]:
    parts = [p for chunk in raw.split(",") for p in chunk.split()]
    return [normalize_endpoint(p) for p in parts if p.strip()]


# -- the Aldea request ----------------------------------------------------------------------

_CLEANUPS = [
    (re.compile(r"^\s*chunk\s+id\s+\d+\s*", re.IGNORECASE), ""),
    (re.compile(r"^\s*seq\s+\w+\s*", re.IGNORECASE), ""),
    (re.compile(r"^\s*text\s+", re.IGNORECASE), ""),
    (re.compile(r"\bwords\s+pending\s+\d+\b", re.IGNORECASE), ""),
    (re.compile(r"\bevent\s+done\s+pending\s+\d+\b", re.IGNORECASE), ""),
    (re.compile(r"\s+"), " "),
]


def clean_transcript(text: str) -> str:
    for pattern, repl in _CLEANUPS:
        text = pattern.sub(repl, text)
    return text.strip()


def reply_text(response: requests.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text or ""
    if isinstance(payload, dict):
        for key in ("text", "transcript"):
            if isinstance(payload.get(key), str):
                return payload[key]
        data = payload.get("data")
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            return data["text"]
    return ""


def transcribe_with_retry(wav_path: str, sample: dict[str, Any], endpoints: RoundRobin) -> str:
    retries = 0
    while True:
        try:
            url = endpoints.next() or os.getenv("ALDEA_API_URL") or DEFAULT_ALDEA_URL
            headers = {"Content-Type": "wave"}
            token = os.getenv("ALDEA_API_KEY")
            if token:
                headers["Authorization"] = f"Bearer {token}"
            duration = len(sample["audio"]["array"]) / sample["audio"]["sampling_rate"]
            if duration < 0.160:
                return "."
            with open(wav_path, "rb") as fh:
                response = requests.post(url, headers=headers, data=fh, timeout=REQUEST_TIMEOUT)
            response.raise_for_status()
            return clean_transcript(reply_text(response).strip())
        except Exception as exc:
            retries += 1
            if retries > MAX_RETRIES:
                raise
            sf.write(
                wav_path, sample["audio"]["array"], sample["audio"]["sampling_rate"], format="WAV"
            )
            too_many = "429" in str(exc) or "Too Many Requests" in str(exc)
            time.sleep(min(60, 2**retries) if too_many else 1)


# -- the split ------------------------------------------------------------------------------


def prepare_data(ds: datasets.Dataset) -> datasets.Dataset:
    """The leaderboard's `prepare_data`: 16 kHz audio, a `norm_text` column, no empty refs."""

    def add_norm_text(row: dict[str, Any]) -> dict[str, Any]:
        row["original_text"] = row["text"]
        row["norm_text"] = normalizer(row["original_text"])
        return row

    def in_range(ref: str) -> bool:
        return ref.strip() not in ("", "ignore time segment in scoring")

    ds = ds.cast_column("audio", datasets.Audio(sampling_rate=16000))
    ds = ds.map(add_norm_text, writer_batch_size=1)
    return ds.filter(in_range, input_columns=["norm_text"], writer_batch_size=1)


def transcribe_dataset(args: argparse.Namespace, endpoints: RoundRobin) -> str:
    os.makedirs(args.results_dir, exist_ok=True)
    manifest_path = os.path.join(
        args.results_dir,
        f"MODEL_{args.model_name.replace('/', '-')}_DATASET_"
        f"{args.dataset_path.replace('/', '-')}_{args.dataset}_{args.split}.jsonl",
    )
    existing = 0
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as fh:
            existing = sum(1 for _ in fh)
    ds: Any = datasets.load_dataset(
        args.dataset_path, args.dataset, split=args.split, streaming=False
    )
    ds = prepare_data(ds)
    if args.max_samples:
        ds = ds.take(args.max_samples)
    if existing:
        ds = itertools.islice(ds, existing, None)

    manifest = open(manifest_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open, as the seed
    lock = threading.Lock()
    write_index = existing
    print(f"Transcribing with model: {args.model_name}")

    def process_sample(sample: dict[str, Any]) -> tuple[str, str, float, float] | None:
        reference = sample.get("norm_text", "").strip() or " "
        with tempfile.NamedTemporaryFile(suffix=".wav", delete=False) as tmp:
            audio = sample["audio"]
            sf.write(tmp.name, audio["array"], audio["sampling_rate"], format="WAV")
            wav_path = tmp.name
            duration = len(audio["array"]) / audio["sampling_rate"]
        start = time.time()
        try:
            transcription = transcribe_with_retry(wav_path, sample, endpoints)
        except Exception as exc:
            print(f"Failed to transcribe after retries: {exc}")
            return None
        finally:
            if os.path.exists(wav_path):
                os.unlink(wav_path)
        return reference, transcription, duration, time.time() - start

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.max_workers) as executor:
        futures = {executor.submit(process_sample, sample): sample for sample in ds}
        for future in tqdm(
            concurrent.futures.as_completed(futures), total=len(futures), desc="Transcribing"
        ):
            result = future.result()
            if not result:
                continue
            reference, transcription, duration, elapsed = result
            line = {
                "audio_filepath": f"sample_{write_index}",
                "duration": duration,
                "time": elapsed,
                "text": normalizer(reference) or " ",
                "pred_text": normalizer(transcription) or " ",
            }
            with lock:
                manifest.write(json.dumps(line, ensure_ascii=False) + "\n")
                manifest.flush()
                write_index += 1
    manifest.close()
    print("Results saved at path:", manifest_path)
    return manifest_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The seed's thread-pool runner (Aldea, local).")
    parser.add_argument("--dataset_path", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--max_samples", type=int, default=None)
    parser.add_argument("--max_workers", type=int, default=300)
    parser.add_argument("--aldea_endpoints", default=None)
    parser.add_argument("--results_dir", default="./results/")
    args = parser.parse_args(argv)
    raw = args.aldea_endpoints or os.getenv("ALDEA_ENDPOINTS") or ""
    transcribe_dataset(args, RoundRobin(split_endpoints(raw)))


if __name__ == "__main__":
    main()
