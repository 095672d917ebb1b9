"""Finals bound to their own stream in the WebSocket clients (#28 item 3; openai-rt and the job
clients are in test_stream_binding.py): deepgram-live, assemblyai-rt, elevenlabs-rt,
speechmatics-rt and meta's muse-voice-transcribe-streaming each take only the messages of
their own request, session or stream. A
message of another one, or a final out of the protocol's order, fails the attempt as a
retryable `protocol` error whose words are never scored.

Three layers: a scripted server per rule (the exact line a user sees), the strict mock's
`foreign` fault through the engine (a clean retry succeeds), and `run_eval.py` against it
(failed lines say `protocol`, the foreign words are nowhere in the results).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType, web

from asyncbench.core.errors import ProviderError
from asyncbench.core.streaming import StreamOptions
from asyncbench.providers import resolve
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.servers.mock.state import MockConfig
from asyncbench.servers.mock.streaming import FOREIGN_TEXT
from asyncbench.sources import watermark
from asyncbench.sources.audio import wav_header

from .eval_runs import run_eval
from .loopback import free_port, serve
from .provider_runs import N_SAMPLES, clips, env_with, run_engine, small_split
from .support import MockServer, only_file, read_results

Script = Callable[[web.WebSocketResponse], Awaitable[None]]

DEEPGRAM = "deepgram-live/nova-3"
ASSEMBLYAI = "assemblyai-rt/universal-streaming"
ELEVENLABS = "elevenlabs-rt/scribe_v2_realtime"
SPEECHMATICS = "speechmatics-rt/enhanced"
META = "meta/muse-voice-transcribe-streaming"
#: model name -> (the mock's name, the key's variable)
MOCKS = {
    DEEPGRAM: ("deepgram-live", "DEEPGRAM_API_KEY"),
    ASSEMBLYAI: ("assemblyai-rt", "ASSEMBLYAI_API_KEY"),
    ELEVENLABS: ("elevenlabs-rt", "ELEVENLABS_API_KEY"),
    SPEECHMATICS: ("speechmatics-rt", "SPEECHMATICS_API_KEY"),
    META: ("meta-stream", "META_API_KEY"),
}
#: the start of each client's line for the mock's foreign final
FOREIGN_LINES = {
    DEEPGRAM: r"a final for request 'dg[0-9a-f]+', not this stream's 'dg[0-9a-f]+'",
    ASSEMBLYAI: r"a second Begin \(session 'aai[0-9a-f]+'\) inside session 'aai[0-9a-f]+'",
    ELEVENLABS: r"a second session_started \(session 'el[0-9a-f]+'\) inside session 'el[0-9a-f]+'",
    SPEECHMATICS: r"an AddTranscript ending at 3[0-9]\.[0-9]{2} s, past the [0-9]\.[0-9]{2} s "
    r"of audio this session sent",
    META: r"a second session start \(session 'meta[0-9a-f]+'\) inside session 'meta[0-9a-f]+'",
}


def clip(seconds: float = 0.4) -> AudioPayload:
    pcm = watermark.embed("mine", seconds, seed=3)
    return AudioPayload(wav_header(len(pcm) * 2) + pcm.tobytes(), "audio/wav", "a.wav", seconds)


async def stream(
    name: str,
    path: str,
    script: Script,
    *,
    headers: dict[str, str] | None = None,
    seconds: float = 0.4,
    realtime: bool = False,
) -> str:
    """One session of the `name` client against a server that runs `script` on the socket
    (with `headers` on the upgrade); the transcript, or the client's error."""
    port = free_port()

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        ws.headers.update(headers or {})
        await ws.prepare(request)
        await script(ws)
        return ws

    app = web.Application()
    app.router.add_get(path, handle)
    runner = await serve(app, [port])
    try:
        cls, model = resolve(name)
        client = cls(
            ProviderSettings(
                model=model,
                api_key="key-binding-0123",
                base_url=f"http://127.0.0.1:{port}",
                language="en",
                streaming=StreamOptions(realtime, None, 1.0, 5.0),
            )
        )
        async with aiohttp.ClientSession() as session:
            got = await asyncio.wait_for(
                client.transcribe(session, client.endpoint_urls()[0], clip(seconds)), 30
            )
        return str(got)
    finally:
        await runner.cleanup()


async def refused(*args: Any, **kw: Any) -> str:
    """The line of the `protocol` error `stream(...)` must end with."""
    with pytest.raises(ProviderError) as info:
        await stream(*args, **kw)
    assert info.value.kind == "protocol" and info.value.retryable, info.value
    return str(info.value)


async def send(ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
    await ws.send_str(orjson.dumps(message).decode())


async def until_text(ws: web.WebSocketResponse) -> dict[str, Any]:
    """Skip the audio frames; the next text message."""
    while (msg := await ws.receive()).type == WSMsgType.BINARY:
        pass
    assert msg.type == WSMsgType.TEXT, msg
    return orjson.loads(msg.data)


async def hold(ws: web.WebSocketResponse) -> None:
    """Read until the client goes (a server that has said its piece)."""
    while (await ws.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
        pass


# -- deepgram-live: the request id of the upgrade ------------------------------------------------


def results(text: str, final: bool, request_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "Results",
        "is_final": final,
        "channel": {"alternatives": [{"transcript": text}]},
    }
    if request_id is not None:
        body["metadata"] = {"request_id": request_id}
    return body


def deepgram(*messages: dict[str, Any]) -> Script:
    """A Deepgram stream that answers the end of audio with `messages` and closes."""

    async def script(ws: web.WebSocketResponse) -> None:
        await until_text(ws)  # Finalize
        for message in messages:
            await send(ws, message)
        await ws.close()

    return script


async def test_deepgram_takes_the_finals_of_its_own_request() -> None:
    script = deepgram(
        results("my own", False, "req-mine"),
        results("my own words", True, "req-mine"),
        {"type": "Metadata", "request_id": "req-mine"},
    )
    got = await stream(DEEPGRAM, "/v1/listen", script, headers={"dg-request-id": "req-mine"})
    assert got == "my own words"


@pytest.mark.parametrize("header", [True, False])
async def test_deepgram_never_scores_another_requests_final(header: bool) -> None:
    """Before: every final on the socket was taken, whatever request it named. Without the
    header, the first request id the stream names is its own."""
    script = deepgram(
        results("my own", False, "req-mine"),
        results("words from another session", True, "req-other"),
        results("my own words", True, "req-mine"),
        {"type": "Metadata", "request_id": "req-mine"},
    )
    headers = {"dg-request-id": "req-mine"} if header else {}
    line = await refused(DEEPGRAM, "/v1/listen", script, headers=headers)
    assert line == "a final for request 'req-other', not this stream's 'req-mine'"


async def test_deepgram_never_ends_on_another_requests_metadata() -> None:
    script = deepgram(
        results("my own words", True, "req-mine"),
        {"type": "Metadata", "request_id": "req-other"},
    )
    line = await refused(DEEPGRAM, "/v1/listen", script, headers={"dg-request-id": "req-mine"})
    assert line == "a Metadata for request 'req-other', not this stream's 'req-mine'"


# -- assemblyai-rt: one Begin, turns in order, Termination after Terminate -------------------------


def turn(order: int, text: str, end: bool, formatted: bool = False) -> dict[str, Any]:
    return {
        "type": "Turn",
        "turn_order": order,
        "end_of_turn": end,
        "turn_is_formatted": formatted,
        "transcript": text,
        "words": [],
    }


BEGIN = {"type": "Begin", "id": "s-mine", "expires_at": 1}
TERMINATION = {"type": "Termination", "audio_duration_seconds": 0}


def assemblyai(*messages: dict[str, Any], before_terminate: bool = False) -> Script:
    """An AssemblyAI session that sends `messages` after `Terminate` (or at once)."""

    async def script(ws: web.WebSocketResponse) -> None:
        await send(ws, BEGIN)
        if not before_terminate:
            await until_text(ws)  # Terminate
        for message in messages:
            await send(ws, message)
        await hold(ws)

    return script


async def test_assemblyai_takes_its_turns_in_order() -> None:
    script = assemblyai(
        turn(0, "my", False),
        turn(0, "my own", True),
        turn(0, "My own.", True, formatted=True),  # format_turns' second final: not scored
        turn(1, "words", False),
        turn(1, "words", True),
        TERMINATION,
    )
    assert await stream(ASSEMBLYAI, "/v3/ws", script) == "my own words"


async def test_assemblyai_never_scores_a_turn_after_a_second_begin() -> None:
    """Before: the second Begin was skipped and its turn 0 taken, and this session's own
    turn 0 then dropped as a repeat: the clip was scored with another session's words."""
    script = assemblyai(
        {"type": "Begin", "id": "s-other", "expires_at": 1},
        turn(0, "words from another session", True),
        turn(0, "my own words", True),
        TERMINATION,
    )
    line = await refused(ASSEMBLYAI, "/v3/ws", script)
    assert line == "a second Begin (session 's-other') inside session 's-mine'"


@pytest.mark.parametrize(
    ("messages", "line"),
    [
        (
            [turn(3, "words from another session", True)],
            "a Turn numbered 3 out of order (session 's-mine' is at turn 0)",
        ),
        (
            [turn(0, "my own words", True), turn(0, "words from another session", True)],
            "turn 0 again after its final (session 's-mine')",
        ),
        (
            [turn(0, "my own words", True), turn(0, "more", False)],
            "turn 0 again after its final (session 's-mine')",
        ),
    ],
)
async def test_assemblyai_never_scores_a_turn_out_of_order(
    messages: list[dict[str, Any]], line: str
) -> None:
    script = assemblyai(*messages, TERMINATION)
    assert await refused(ASSEMBLYAI, "/v3/ws", script) == line


async def test_assemblyai_a_termination_before_terminate_is_never_scored() -> None:
    """The session ended before the clip did (its finals are a part of the clip): it is
    not this clip's transcript. Ten seconds paced in real time: Terminate cannot be sent."""
    script = assemblyai(turn(0, "my own", True), TERMINATION, before_terminate=True)
    line = await refused(ASSEMBLYAI, "/v3/ws", script, seconds=10.0, realtime=True)
    assert line == "Termination before this client sent Terminate (session 's-mine')"


# -- elevenlabs-rt: one session_started, its session id ------------------------------------------


def elevenlabs(*messages: dict[str, Any]) -> Script:
    """An ElevenLabs session that answers the commit with `messages`."""

    async def script(ws: web.WebSocketResponse) -> None:
        await send(ws, {"message_type": "session_started", "session_id": "s-mine"})
        while not (await until_text(ws)).get("commit"):
            pass
        for message in messages:
            await send(ws, message)
        await hold(ws)

    return script


def committed(text: str, **fields: Any) -> dict[str, Any]:
    return {"message_type": "committed_transcript", "text": text, **fields}


async def test_elevenlabs_takes_its_own_committed_transcript() -> None:
    script = elevenlabs(committed("my own words"))
    assert await stream(ELEVENLABS, "/v1/speech-to-text/realtime", script) == "my own words"


async def test_elevenlabs_never_scores_a_transcript_after_a_second_session_started() -> None:
    """Before: the committed transcript after another session's start was taken."""
    script = elevenlabs(
        {"message_type": "session_started", "session_id": "s-other"},
        committed("words from another session"),
    )
    line = await refused(ELEVENLABS, "/v1/speech-to-text/realtime", script)
    assert line == "a second session_started (session 's-other') inside session 's-mine'"


async def test_elevenlabs_never_scores_a_transcript_naming_another_session() -> None:
    script = elevenlabs(committed("words from another session", session_id="s-other"))
    line = await refused(ELEVENLABS, "/v1/speech-to-text/realtime", script)
    assert line == "a committed_transcript of session 's-other', not this stream's 's-mine'"


async def test_elevenlabs_a_transcript_before_session_started_is_never_scored() -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await send(ws, committed("words from another session"))
        await hold(ws)

    line = await refused(ELEVENLABS, "/v1/speech-to-text/realtime", script)
    assert line.startswith("expected session_started, got {'message_type': 'committed_")


# -- speechmatics-rt: RecognitionStarted first and once, EndOfStream first, the audio sent -------


def transcript(text: str, end_time: float) -> dict[str, Any]:
    return {
        "message": "AddTranscript",
        "metadata": {"transcript": text, "start_time": 0.0, "end_time": end_time},
        "results": [],
    }


STARTED = {"message": "RecognitionStarted", "id": "s-mine"}


def speechmatics(*messages: dict[str, Any], started: bool = True, early: bool = False) -> Script:
    """A Speechmatics session that sends `messages` after EndOfStream (or, `early`, at once
    after RecognitionStarted; or, not `started`, instead of it), then EndOfTranscript."""

    async def script(ws: web.WebSocketResponse) -> None:
        await ws.receive()  # StartRecognition
        if started:
            await send(ws, STARTED)
        if started and not early:
            await until_text(ws)  # EndOfStream
        for message in messages:
            await send(ws, message)
        await send(ws, {"message": "EndOfTranscript"})
        await hold(ws)

    return script


async def test_speechmatics_takes_its_own_transcripts() -> None:
    script = speechmatics(transcript("my own", 0.2), transcript("words", 0.4))
    assert await stream(SPEECHMATICS, "/v2", script) == "my own words"


@pytest.mark.parametrize(
    ("script", "line", "realtime"),
    [
        (
            speechmatics(transcript("words from another session", 0.4), started=False),
            "AddTranscript before RecognitionStarted",
            False,
        ),
        (
            speechmatics({**STARTED, "id": "s-other"}, transcript("words", 0.4)),
            "a second RecognitionStarted (session 's-other') inside session 's-mine'",
            False,
        ),
        (
            speechmatics(transcript("words from another session", 5.0)),
            "an AddTranscript ending at 5.00 s, past the 0.40 s of audio this session sent",
            False,
        ),
        (  # ten seconds in real time: EndOfStream cannot have been sent
            speechmatics(transcript("my own", 0.2), early=True),
            "EndOfTranscript before this client sent EndOfStream (session 's-mine')",
            True,
        ),
    ],
    ids=["before-start", "second-start", "past-the-audio", "before-end-of-stream"],
)
async def test_speechmatics_never_scores_a_transcript_not_of_its_session(
    script: Script, line: str, realtime: bool
) -> None:
    seconds = 10.0 if realtime else 0.4
    got = await refused(SPEECHMATICS, "/v2", script, seconds=seconds, realtime=realtime)
    assert got == line


# -- meta-stream: the handshake's sessionId, turns opened by speechStart, nothing after the end ---

MINE = {"sessionId": "s-mine"}  # the handshake's acknowledgement (Pipecat's and LiveKit's clients)


def speech(kind: str, turn: object, text: str | None = None, **fields: Any) -> dict[str, Any]:
    """A Meta turn event: `speechStart`, `transcript`, `speechEnd` or `speechComplete`."""
    body: dict[str, Any] = {"type": kind, "turnId": turn, **fields}
    if text is not None:
        body["transcript"] = text
    return body


def meta(
    *before: dict[str, Any], after: tuple[dict[str, Any], ...] = (), ack: bool = True
) -> Script:
    """A Meta session: the acknowledgement (unless not `ack`), then `before` once the trailing
    silence starts (the endpointer heard the speech stop), then `after` once the client has
    sent endStream, and a close."""

    async def script(ws: web.WebSocketResponse) -> None:
        await ws.receive()  # the handshake
        if ack:
            await send(ws, MINE)
        while (msg := await ws.receive()).type == WSMsgType.BINARY and any(msg.data):
            pass  # the clip; its first all-zero frame is the trailing silence
        for message in before:
            await send(ws, message)
        while (msg := await ws.receive()).type == WSMsgType.BINARY:
            pass
        assert msg.type == WSMsgType.TEXT and "endStream" in msg.data, msg
        for message in after:
            await send(ws, message)
        await ws.close()

    return script


REALTIME = "/v1/asr/realtime"


async def test_meta_takes_its_own_turns() -> None:
    script = meta(
        speech("speechStart", 0),
        speech("transcript", 0, "my"),
        speech("speechEnd", 0),
        speech("speechComplete", 0, "my own"),
        speech("speechStart", 1),
        after=(speech("speechComplete", 1, "words"),),  # turn 1 was open: its final may follow
    )
    assert await stream(META, REALTIME, script) == "my own words"


async def test_meta_without_ids_is_not_refused() -> None:
    """Defensive: no acknowledgement, no turnId (UNCONFIRMED which messages name them)."""
    script = meta({"type": "speechComplete", "transcript": "my own words"}, ack=False)
    assert await stream(META, REALTIME, script) == "my own words"
    script = meta(
        {"type": "speechStart"},
        {"type": "speechComplete", "transcript": "my own"},
        {"type": "speechStart"},  # a turn still open at endStream: its final may follow
        after=({"type": "speechComplete", "transcript": "words"},),
        ack=False,
    )
    assert await stream(META, REALTIME, script) == "my own words"
    # turns opened without an id, finals naming one: no opening named a turn, so none is foreign
    script = meta(
        {"type": "speechStart"},
        {"type": "speechComplete", "turnId": 0, "transcript": "my own"},
        {"type": "speechStart"},
        {"type": "speechComplete", "turnId": 1, "transcript": "words"},
        ack=False,
    )
    assert await stream(META, REALTIME, script) == "my own words"


@pytest.mark.parametrize(
    ("script", "line"),
    [
        (
            meta(
                speech("speechStart", 0),
                {"sessionId": "s-other"},
                speech("speechComplete", 0, "words from another session"),
                speech("speechComplete", 0, "my own words"),
            ),
            "a second session start (session 's-other') inside session 's-mine'",
        ),
        (
            meta(
                speech("speechStart", 0),
                speech("speechComplete", 0, "words from another session", sessionId="s-other"),
            ),
            "a speechComplete of session 's-other', not this stream's 's-mine'",
        ),
        (
            meta(
                speech("speechStart", 0),
                speech("speechComplete", 7, "words from another session"),
                speech("speechComplete", 0, "my own words"),
            ),
            "a speechComplete for turn '7', which session 's-mine' did not open",
        ),
        (
            meta(
                speech("speechStart", 0),
                speech("speechComplete", 0, "my own words"),
                speech("speechComplete", 0, "words from another session"),
            ),
            "a second speechComplete for turn '0' (session 's-mine')",
        ),
        (
            meta(
                speech("speechStart", 0),
                speech("speechComplete", 0, "words from another session"),
                MINE,
                ack=False,
            ),
            "a speechStart before the session started (session 's-mine')",
        ),
        (
            meta(
                speech("speechStart", 0),
                speech("speechComplete", 0, "my own words"),
                after=(
                    speech("speechStart", 1),
                    speech("speechComplete", 1, "words from another session"),
                ),
            ),
            "a speechStart after endStream and the session's last turn (session 's-mine')",
        ),
        (
            meta(
                speech("speechStart", 0),
                speech("speechComplete", 0, "my own words"),
                after=(speech("transcript", 1, "words from another session", final=True),),
            ),
            "a transcript after endStream and the session's last turn (session 's-mine')",
        ),
        (
            meta(
                {"type": "speechComplete", "transcript": "my own words"},
                after=({"type": "speechComplete", "transcript": "words from another session"},),
            ),
            "a speechComplete after endStream and the session's last turn (session 's-mine')",
        ),
        (
            meta({"type": "audioProgress", "sessionId": "s-other"}, MINE, ack=False),
            "the session start names 's-mine', but its messages 's-other'",
        ),
    ],
    ids=[
        "second-start",
        "another-session",
        "unopened-turn",
        "turn-twice",
        "before-start",
        "after-the-end",
        "transcript-after-the-end",
        "final-without-turn-after-the-end",
        "start-naming-another-session",
    ],
)
async def test_meta_never_scores_a_final_not_of_its_session(script: Script, line: str) -> None:
    """Before: every speechComplete on the socket was scored, whatever it named."""
    assert await refused(META, REALTIME, script) == line


async def test_meta_another_sessions_refused_key_does_not_stop_the_run() -> None:
    """An `error` naming another session is not this session's verdict on the key: `protocol`
    (retried), not `auth` (which stops the run)."""
    other = {"type": "error", "code": 401, "message": "Invalid OAuth access token"}
    line = await refused(META, REALTIME, meta({**other, "sessionId": "s-other"}))
    assert line == "an error of session 's-other', not this stream's 's-mine'"
    with pytest.raises(ProviderError) as info:
        await stream(META, REALTIME, meta({**other, "sessionId": "s-mine"}))
    assert (info.value.kind, info.value.retryable) == ("auth", False)


# -- the strict mock's foreign final, through the engine -----------------------------------------


@pytest.mark.parametrize("model", list(MOCKS))
async def test_a_foreign_final_fails_the_attempt_and_a_clean_retry_succeeds(
    model: str, tmp_path: Path
) -> None:
    """Only the first stream gets another session's final first: that attempt fails as
    `protocol`, the clip is streamed again, and its own words are what is scored."""
    config = MockConfig(stream_fault="foreign", stream_fault_first=1)
    async with MockServer(config) as mock:
        cls, name = resolve(model)
        client = cls(
            ProviderSettings(
                model=name,
                api_key="key-binding-0123",
                base_url=mock.url,
                language="en",
                streaming=StreamOptions(realtime_factor=4.0, final_timeout_s=5.0),
            )
        )
        rows = await run_engine(client, clips(1), tmp_path, max_retries=1)
    (row,) = rows.values()
    assert (row["status"], row["attempts"], row["pred_text"]) == ("ok", 2, row["text"]), row
    assert mock.state.counters["stream.faults"] == 1
    assert mock.state.counters[f"{MOCKS[model][0]}.requests"] == 2


# -- and through run_eval.py ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, Path]]:
    """Per model: `run_eval.py` against a mock whose every stream gets a foreign final
    (`<model>`), and one whose first stream only does (`<model> once`)."""
    root = tmp_path_factory.mktemp("binding")
    dataset = small_split(root / "esb")
    key = "key-binding-0123"

    async def one(model: str, config: MockConfig, out: Path) -> tuple[int, str, Path]:
        env = env_with(**{MOCKS[model][1]: key})
        async with MockServer(config) as mock:
            code, _, err = await run_eval(
                model, dataset, out, mock.url, env, "--realtime_factor", "4", "--max_retries", "1"
            )
        return code, err, out

    async def main() -> dict[str, tuple[int, str, Path]]:
        jobs = {}
        for i, model in enumerate(MOCKS):
            always = MockConfig(stream_fault="foreign")
            once = MockConfig(stream_fault="foreign", stream_fault_first=1)
            jobs[model] = one(model, always, root / f"always{i}")
            jobs[f"{model} once"] = one(model, once, root / f"once{i}")
        done = await asyncio.gather(*jobs.values())
        return dict(zip(jobs, done, strict=True))

    return asyncio.run(main())


@pytest.mark.parametrize("model", list(MOCKS))
def test_run_eval_never_scores_foreign_words(
    cli: dict[str, tuple[int, str, Path]], model: str
) -> None:
    """Every stream answered with another session's final first: each line failed as
    `protocol` with its one readable reason after its retry, the run exits 3, and the
    foreign words are in no line."""
    code, err, out = cli[model]
    assert code == 3, err
    path = only_file(out)
    assert FOREIGN_TEXT not in path.read_text()
    rows = read_results(path)
    assert len(rows) == N_SAMPLES
    for row in rows:
        assert (row["status"], row["error_kind"], row["attempts"]) == ("failed", "protocol", 2)
        assert re.fullmatch(FOREIGN_LINES[model], row["error"]), row["error"]
        assert row["pred_text"] == ""
    assert "protocol" in err and "Traceback" not in err


@pytest.mark.parametrize("model", list(MOCKS))
def test_run_eval_retries_a_foreign_final_on_a_clean_stream(
    cli: dict[str, tuple[int, str, Path]], model: str
) -> None:
    code, err, out = cli[f"{model} once"]
    assert code == 0, err
    path = only_file(out)
    assert FOREIGN_TEXT not in path.read_text()
    rows = read_results(path)
    assert all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows), rows
    assert sorted(r["attempts"] for r in rows) == [1] * (N_SAMPLES - 1) + [2]
