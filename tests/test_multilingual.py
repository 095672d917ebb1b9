"""The multilingual track's language, end to end: resolved once from `--language` or the config
name, checked against each provider's own table before any request, sent in each provider's
documented field, refused by every mock when unknown, and recorded in the `.meta.json`.

The data is a local copy of the track's layout (`write_multilingual_folder`: `fleurs_de`,
`mcv_fr`, `mls_it` with accented sentences watermarked into their clips), so the mock answers
each clip with its own text and counts the language every request carried.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import aiohttp
import orjson
import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.core.languages import check_code, config_language, resolve
from asyncbench.providers import ProviderSettings
from asyncbench.providers import resolve as resolve_provider
from asyncbench.servers.mock import MockConfig
from asyncbench.sources.hub_layout import (
    MULTILINGUAL_CONFIGS,
    multilingual_sentences,
    write_multilingual_folder,
)

from .inproc import Background, cli, one_error_line
from .provider_runs import (
    transcribe_one,
    wav_clip,
)
from .support import PYTHON, REPO, MockServer, cli_env, read_results

CONFIGS = ("fleurs_de", "mcv_fr", "mls_it")
PER_CONFIG = 3
KEY = "test-key-1234"


@pytest.fixture(scope="module")
def ml_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # mcv_fr keeps its transcript in `sentence`, Common Voice's own column name
    return write_multilingual_folder(
        tmp_path_factory.mktemp("ml") / "ml",
        CONFIGS,
        per_config=PER_CONFIG,
        text_columns={"mcv_fr": "sentence"},
    )


def base_urls(mock_url: str) -> dict[str, str]:
    """Every provider's base-URL variable pointed at the mock, and a key for each."""
    ws = mock_url.replace("http://", "ws://")
    urls = {
        "OPENAI_BASE_URL": f"{mock_url}/v1",
        "GROQ_BASE_URL": f"{mock_url}/openai/v1",
        "DEEPGRAM_BASE_URL": mock_url,
        "ELEVENLABS_BASE_URL": mock_url,
        "ASSEMBLYAI_BASE_URL": mock_url,
        "REVAI_BASE_URL": mock_url,
        "SPEECHMATICS_BASE_URL": f"{mock_url}/v2",
        "SPEECHMATICS_RT_URL": f"{ws}/v2",
    }
    keys = ("OPENAI", "GROQ", "DEEPGRAM", "ELEVENLABS", "ASSEMBLYAI", "REVAI", "SPEECHMATICS")
    return urls | {f"{k}_API_KEY": KEY for k in keys}


# --------------------------------------------------------------------------- resolution


def test_language_comes_from_the_flag_else_the_config_name_else_english() -> None:
    assert [config_language(c) for c in ("fleurs_de", "mcv_fr", "mls_it", "mls-pt")] == [
        "de",
        "fr",
        "it",
        "pt",
    ]
    # English configs, even one ending in letters that are a code (`aa` is Afar)
    for english in ("ami", "librispeech", "voxpopuli_cleaned_aa", "earnings22_cleaned_aa_chunked"):
        assert config_language(english) is None
        assert resolve(english, None) == "en"
    assert resolve("fleurs_de", None) == "de"
    assert resolve("fleurs_de", "DE") == "de"
    assert resolve("ami", "fr") == "fr"
    assert all(config_language(c) for c in MULTILINGUAL_CONFIGS)


def test_bad_codes_and_a_config_in_another_language_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"'xx' is not an ISO 639-1 language code"):
        check_code("xx")
    with pytest.raises(ConfigError, match=r"a region is not needed: pass --language pt"):
        check_code("pt-PT")
    with pytest.raises(ConfigError, match=r"three-letter .* use the two-letter one"):
        check_code("deu")
    with pytest.raises(ConfigError) as info:
        resolve("fleurs_de", "en")
    assert str(info.value) == (
        "--language en does not match config 'fleurs_de', which is in German (de); "
        "drop --language or pass --language de"
    )


@pytest.mark.parametrize(
    ("model_name", "language"),
    [
        ("assembly/slam-1", "de"),
        ("assembly/universal-3-pro", "ja"),
        ("groq/distil-whisper-large-v3-en", "fr"),
        ("revai/fusion", "it"),
        ("deepgram/nova-3", "pl"),
        ("openai/whisper-1", "yo"),
        ("speechmatics/enhanced", "yo"),
        ("elevenlabs/scribe_v1", "bh"),
    ],
)
def test_a_language_a_model_does_not_list_fails_naming_provider_model_and_language(
    model_name: str, language: str
) -> None:
    cls, model = resolve_provider(model_name)
    with pytest.raises(ConfigError) as info:
        cls(ProviderSettings(model=model, api_key=KEY, language=language))
    assert str(info.value).startswith(
        f"{model_name.split('/')[0]}/{model} does not support language '{language}'"
    )
    assert "it supports: " in str(info.value)


def test_every_provider_takes_the_five_languages_of_the_track() -> None:
    from asyncbench.providers import REGISTRY

    models = {
        "aldea": "default",
        "assembly": "universal-3-pro",
        "assemblyai": "best",
        "revai": "machine",
        "speechmatics": "enhanced",
        "speechmatics-batch": "enhanced",
        "speechmatics-rt": "enhanced",
        "openai": "gpt-4o-transcribe",
        "openai-compatible": "any",
        "groq": "whisper-large-v3",
        "elevenlabs": "scribe_v2",
        "deepgram": "nova-3",
        "soniox": "stt-async-v5",
        "gladia": "solaria-3",
        "microsoft": "azure-speech",
        "modulate": "multilingual",
        "reson8": "resonant-1",
        "smallestai": "pulse",
        "deepgram-live": "nova-3",
        "assemblyai-rt": "universal-streaming-multilingual",
        "elevenlabs-rt": "scribe_v2_realtime",
        "openai-rt": "gpt-4o-transcribe",
        "meta": "muse-voice-transcribe",
        "sprag": "symphony",
        "gemini": "gemini-3.5-transcribe",
    }
    #: Sophea's asr-k1 takes English and German only
    english_and_german = {"sophea": "asr-k1"}
    english_only = {
        "zoom": "scribe_v1",
        "aquavoice": "avalon-v1-en",
        "assemblyai-rt": "universal-streaming",
    }
    assert set(models) | set(english_only) | set(english_and_german) == set(REGISTRY)
    for prefix, model in models.items():
        cls, _ = resolve_provider(f"{prefix}/{model}")
        for language in ("en", "de", "fr", "it", "es", "pt"):
            cls.check_language(model, language)
    for prefix, model in english_only.items():
        cls, _ = resolve_provider(f"{prefix}/{model}")
        cls.check_language(model, "en")
        with pytest.raises(ConfigError, match=f"{prefix}/{model} does not support language 'de'"):
            cls.check_language(model, "de")
    for prefix, model in english_and_german.items():
        cls, _ = resolve_provider(f"{prefix}/{model}")
        cls.check_language(model, "de")
        with pytest.raises(ConfigError, match=f"{prefix}/{model} does not support language 'fr'"):
            cls.check_language(model, "fr")


# --------------------------------------------------------------------------- bad input, CLI


@pytest.mark.parametrize(
    ("extra", "config", "expected"),
    [
        (
            ["--language", "xx"],
            "fleurs_de",
            "error: --language 'xx' is not an ISO 639-1 language code (two letters such as en, "
            "de, fr, it, es, pt)",
        ),
        (
            ["--language", "en"],
            "mls_it",
            "error: --language en does not match config 'mls_it', which is in Italian (it); "
            "drop --language or pass --language it",
        ),
        (
            ["--model_name", "assembly/slam-1"],
            "fleurs_de",
            "error: assembly/slam-1 does not support language 'de' (German); it supports: en",
        ),
    ],
)
def test_bad_language_input_is_one_line_exit_2_before_any_request(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    ml_folder: Path,
    tmp_path: Path,
    extra: list[str],
    config: str,
    expected: str,
) -> None:
    with Background(MockServer()) as mock:
        for name, value in base_urls(mock.url).items():
            monkeypatch.setenv(name, value)
        args = ["run", "--model_name", "openai/whisper-1", "--dataset_path", ml_folder]
        args += ["--dataset", config, "--results_dir", tmp_path / "r", "--no_progress", *extra]
        code, out, err = cli(capsys, *args)
        assert (code, out) == (2, ""), err
        assert one_error_line(err) == expected
        requests = {k: v for k, v in mock.state.counters.items() if k.endswith(".requests")}
        assert requests == {}
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").glob("*.jsonl"))


def test_batch_refuses_a_model_without_a_configs_language_before_any_split(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    ml_folder: Path,
    tmp_path: Path,
) -> None:
    with Background(MockServer()) as mock:
        for name, value in base_urls(mock.url).items():
            monkeypatch.setenv(name, value)
        code, _out, err = cli(
            capsys,
            "batch",
            "--model",
            "openai/whisper-1",
            "--model",
            "assembly/slam-1",
            "--suite",
            "multilingual",
            "--datasets",
            "fleurs_de,mls_it",
            "--dataset_path",
            ml_folder,
            "--results_dir",
            tmp_path / "r",
            "--no_progress",
        )
        assert code == 2, err
        assert one_error_line(err) == (
            "error: assembly/slam-1 does not support language 'de' (German); it supports: en"
        )
        assert not any(k.endswith(".requests") for k in mock.state.counters)


def test_a_missing_text_column_lists_the_columns_found(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = write_multilingual_folder(
        tmp_path / "ml", ("fleurs_de",), per_config=1, text_columns={"fleurs_de": "caption"}
    )
    code, _out, err = cli(
        capsys,
        "run",
        "--model_name",
        "aldea/default",
        "--aldea_endpoints",
        "127.0.0.1:9",
        "--dataset_path",
        folder,
        "--dataset",
        "fleurs_de",
        "--results_dir",
        tmp_path / "r",
        "--no_progress",
    )
    assert code == 2
    assert one_error_line(err) == (
        f"error: {folder} fleurs_de/test has no text column (text, sentence, normalized_text, "
        "transcript or transcription); columns present: audio, file_name, duration, caption"
    )


# --------------------------------------------------------------------------- end to end


async def run_eval(*args: str | Path, env: dict[str, str]) -> tuple[int, str, str]:
    """`python run_eval.py ARGS`, the seed's entry point, in a subprocess."""
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        str(REPO / "run_eval.py"),
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(**env),
        cwd=REPO,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("model_name", "counter"), [("openai/whisper-1", "openai"), ("deepgram/nova-3", "deepgram")]
)
async def test_the_multilingual_folder_through_run_eval_sends_each_configs_language(
    ml_folder: Path, tmp_path: Path, model_name: str, counter: str
) -> None:
    results = tmp_path / "results"
    by_text = {t for texts in multilingual_sentences().values() for t in texts}
    async with MockServer(MockConfig(keys={counter: KEY})) as mock:
        for config in CONFIGS:
            before = dict(mock.state.counters)
            code, _, err = await run_eval(
                "--model_name",
                model_name,
                "--dataset_path",
                ml_folder,
                "--dataset",
                config,
                "--split",
                "test",
                "--max_workers",
                "4",
                "--results_dir",
                results,
                "--no_progress",
                env=base_urls(mock.url),
            )
            assert code == 0, err[-2000:]
            language = config.rsplit("_", 1)[1]
            assert f"(language {language})" in err
            seen = {
                k: v - before.get(k, 0)
                for k, v in mock.state.counters.items()
                if k.startswith(f"{counter}.language.") and v != before.get(k, 0)
            }
            # every request of this config carried its language, and nothing else was sent
            assert seen == {f"{counter}.language.{language}": PER_CONFIG}
    files = sorted(results.glob("*.jsonl"))
    assert len(files) == len(CONFIGS)
    for path in files:
        rows = read_results(path)
        assert len(rows) == PER_CONFIG and all(r["status"] == "ok" for r in rows)
        # the mock answered each clip with its own accented sentence
        assert all(r["pred_text"] == r["text"] and r["text"] in by_text for r in rows)
        meta = json.loads(path.with_name(path.stem + ".meta.json").read_text())
        config = meta["config"]
        assert meta["language"] == config.rsplit("_", 1)[1]
        assert path.name == (
            f"MODEL_{model_name.replace('/', '-')}_DATASET_{ml_folder.name}_{config}_test.jsonl"
        )
    assert any("ß" in r["text"] or "ü" in r["text"] for r in read_results(files[0]))


def test_a_resume_in_another_language_is_refused(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    ml_folder: Path,
    tmp_path: Path,
) -> None:
    results = tmp_path / "r"
    with Background(MockServer()) as mock:
        for name, value in base_urls(mock.url).items():
            monkeypatch.setenv(name, value)
        args = ["run", "--model_name", "openai/whisper-1", "--dataset_path", ml_folder]
        args += ["--results_dir", results, "--no_progress"]
        code, _, err = cli(capsys, *args, "--dataset", "fleurs_de")
        assert code == 0, err
        meta = next(results.glob("*.meta.json"))
        ours = json.loads(meta.read_text())
        meta.write_text(json.dumps({**ours, "language": "fr"}))
        before = mock.state.counters["openai.requests"]
        code, _, err = cli(capsys, *args, "--dataset", "fleurs_de")
        assert code == 2
        line = one_error_line(err)
        assert "belongs to another run (language 'fr'" in line and "(language 'de')" in line
        assert mock.state.counters["openai.requests"] == before


# --------------------------------------------------------------------------- each provider


def _provider(model_name: str, mock_url: str, language: str):  # type: ignore[no-untyped-def]
    cls, model = resolve_provider(model_name)
    env = base_urls(mock_url)
    url_env = cls.base_url_env
    base = env.get(url_env or "", mock_url)
    options = {"poll_interval": "0.02"}
    return cls(
        ProviderSettings(
            model=model, api_key=KEY, base_url=base, language=language, options=options
        )
    )


@pytest.mark.parametrize(
    ("model_name", "counter", "sent"),
    [
        ("openai/whisper-1", "openai", "de"),
        ("groq/whisper-large-v3", "groq", "de"),
        ("elevenlabs/scribe_v2", "elevenlabs", "deu"),  # ISO 639-3, as Scribe lists it
        ("deepgram/nova-3", "deepgram", "de"),
        ("assembly/universal-3-pro", "assemblyai", "de"),
        ("revai/machine", "revai", "de"),
        ("speechmatics/enhanced", "speechmatics", "de"),
        ("speechmatics-rt/enhanced", "speechmatics-rt", "de"),
        ("aldea/default", "aldea", "de"),
    ],
)
async def test_each_provider_sends_the_language_in_its_own_field(
    model_name: str, counter: str, sent: str
) -> None:
    text = "Die Straße über die Brücke führt direkt zum Bahnhof."
    async with MockServer() as mock:
        provider = _provider(model_name, mock.url, "de")
        assert await transcribe_one(provider, wav_clip(text, 1.0)) == text
        english = _provider(model_name, mock.url, "en")
        assert await transcribe_one(english, wav_clip("hello there", 1.0)) == "hello there"
    languages = {k: v for k, v in mock.state.counters.items() if ".language." in k}
    # English is the services' default: the harness sends none to ElevenLabs and Aldea
    quiet = counter in ("elevenlabs", "aldea")
    assert languages == {
        f"{counter}.language.{sent}": 1,
        f"{counter}.language.{'-' if quiet else 'en'}": 1,
    }


# --------------------------------------------------------------------------- each mock


async def _refusal(mock_url: str, protocol: str, code: str) -> tuple[int, str]:
    """Send one request with language `code` in `protocol`'s own field: (status, body)."""
    wav = wav_clip("bonjour", 1.0).data or b""
    bearer = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as session:
        if protocol in ("openai", "groq"):
            path = "/v1" if protocol == "openai" else "/openai/v1"
            form = aiohttp.FormData()
            form.add_field("model", "whisper-large-v3")
            form.add_field("language", code)
            form.add_field("file", wav, filename="a.wav", content_type="audio/wav")
            req = session.post(f"{mock_url}{path}/audio/transcriptions", data=form, headers=bearer)
        elif protocol == "elevenlabs":
            form = aiohttp.FormData()
            form.add_field("model_id", "scribe_v2")
            form.add_field("language_code", code)
            form.add_field("file", wav, filename="a.wav", content_type="audio/wav")
            req = session.post(
                f"{mock_url}/v1/speech-to-text", data=form, headers={"xi-api-key": KEY}
            )
        elif protocol == "deepgram":
            req = session.post(
                f"{mock_url}/v1/listen",
                params={"model": "nova-3", "language": code},
                data=wav,
                headers={"Authorization": f"Token {KEY}", "Content-Type": "audio/wav"},
            )
        elif protocol == "assemblyai":
            req = session.post(
                f"{mock_url}/v2/transcript",
                json={"audio_url": f"{mock_url}/a.wav", "language_code": code},
                headers={"Authorization": KEY},
            )
        elif protocol == "revai":
            req = session.post(
                f"{mock_url}/speechtotext/v1/jobs",
                json={"source_config": {"url": f"{mock_url}/a.wav"}, "language": code},
                headers=bearer,
            )
        elif protocol == "speechmatics":
            form = aiohttp.FormData()
            config = {"type": "transcription", "transcription_config": {"language": code}}
            form.add_field("config", orjson.dumps(config).decode())
            form.add_field("data_file", wav, filename="a.wav", content_type="audio/wav")
            req = session.post(f"{mock_url}/v2/jobs", data=form, headers=bearer)
        elif protocol == "aldea":
            req = session.post(
                f"{mock_url}/asr/transcribe",
                params={"language": code},
                data=wav,
                headers={"Content-Type": "wave"},
            )
        else:  # speechmatics_rt: the session's first message, answered with an Error
            ws_url = mock_url.replace("http://", "ws://") + "/v2"
            async with session.ws_connect(ws_url, headers=bearer) as ws:
                start = {
                    "message": "StartRecognition",
                    "audio_format": {"type": "file"},
                    "transcription_config": {"language": code},
                }
                await ws.send_str(orjson.dumps(start).decode())
                reply = await ws.receive(timeout=10)
                message = orjson.loads(reply.data)
                return (400 if message.get("message") == "Error" else 200), reply.data
        async with req as resp:
            return resp.status, await resp.text()


@pytest.mark.parametrize(
    ("protocol", "says"),
    [
        ("openai", "Invalid language 'xx'"),
        ("groq", "Invalid language 'xx'"),
        ("elevenlabs", "invalid_language_code"),
        ("deepgram", "No such model/language/tier combination found"),
        ("assemblyai", "language_code 'xx' is not supported"),
        ("revai", "Language 'xx' is not supported"),
        ("speechmatics", "unsupported language: xx"),
        ("speechmatics_rt", "language not supported: xx"),
        ("aldea", "unsupported language: xx"),
    ],
)
async def test_every_mock_answers_400_for_an_unknown_language_code(
    protocol: str, says: str
) -> None:
    async with MockServer() as mock:
        status, body = await _refusal(mock.url, protocol, "xx")
    assert status == 400, body
    assert says in body
    assert not any(".language." in k for k in mock.state.counters)


# --------------------------------------------------------------------------- batch


def test_batch_picks_multilingual_configs_from_their_suite_with_their_languages() -> None:
    from asyncbench.sources.suites import SUITES, select

    chosen = select(SUITES["multilingual"], "mls_it fleurs_de,fleurs_de")
    assert [(e.config, e.language) for e in chosen] == [("fleurs_de", "de"), ("mls_it", "it")]
    with pytest.raises(ConfigError, match=r"fleurs_de is in suite multilingual: add --suite"):
        select(SUITES["esb"], "fleurs_de")


def test_run_api_ml_sh_runs_each_config_in_its_language_and_resumes(
    ml_folder: Path, tmp_path: Path
) -> None:
    import subprocess

    results = tmp_path / "results"
    with Background(MockServer()) as mock:
        env = cli_env(
            PYTHON=PYTHON,
            MODEL="openai/whisper-1",
            DATASETS="fleurs:de mls:it",
            DATASET_PATH=str(ml_folder),
            RESULTS_DIR=str(results),
            **base_urls(mock.url),
        )

        def run_api_ml() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["bash", str(REPO / "run_api_ml.sh")],
                capture_output=True,
                text=True,
                timeout=300,
                env=env,
                stdin=subprocess.DEVNULL,
                cwd=tmp_path,
            )

        done = run_api_ml()
        assert done.returncode == 0, done.stderr[-3000:]
        assert "configs: fleurs_de,mls_it" in done.stdout
        counted = {k: v for k, v in mock.state.counters.items() if ".language." in k}
        assert counted == {"openai.language.de": PER_CONFIG, "openai.language.it": PER_CONFIG}
        metas = sorted(json.loads(p.read_text())["language"] for p in results.glob("*.meta.json"))
        assert metas == ["de", "it"]
        again = run_api_ml()
        assert again.returncode == 0, again.stderr[-3000:]
        assert again.stderr.count(", skipped") == 2
        assert mock.state.counters["openai.requests"] == 2 * PER_CONFIG


def run_api_ml_sh(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO / "run_api_ml.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        env=cli_env(PYTHON=PYTHON, MODEL="openai/whisper-1", **env),
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
    )


def test_run_api_ml_sh_filters_as_the_board_does(tmp_path: Path) -> None:
    """DATASETS bare names and LANGUAGES, as the board's run_api_ml.sh (OAL@55d5a6ce) takes
    them: the Dutch sets of two corpora run in Dutch, through the mock."""
    root = tmp_path / "hub"  # a local copy of the hub, read through DATA_ROOT
    dataset = "hf-audio/open-asr-leaderboard-multilingual-datasets"
    write_multilingual_folder(root / dataset, ("fleurs_nl", "mls_nl"), per_config=PER_CONFIG)
    results = tmp_path / "results"
    with Background(MockServer()) as mock:
        done = run_api_ml_sh(
            tmp_path,
            DATASETS="fleurs mls",
            LANGUAGES="nl",
            DATA_ROOT=str(root),
            RESULTS_DIR=str(results),
            **base_urls(mock.url),
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "restricted to 2 dataset/language pair(s): fleurs nl mls nl" in done.stdout
        assert "configs: fleurs_nl,mls_nl" in done.stdout
        counted = {k: v for k, v in mock.state.counters.items() if ".language." in k}
        assert counted == {"openai.language.nl": 2 * PER_CONFIG}


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"DATASETS": "covost"},
            "run_api_ml.sh: DATASETS='covost' matched no dataset of the list (fleurs mcv mls "
            "monsoon, or dataset:language pairs such as fleurs:de)",
        ),
        (
            {"DATASETS": "mcv", "LANGUAGES": "pt <b>"},
            "run_api_ml.sh: LANGUAGES='pt <b>' matched no dataset of DATASETS='mcv' "
            "(languages: de fr it es pt nl hi)",
        ),
    ],
)
def test_run_api_ml_sh_filters_that_leave_nothing(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    done = run_api_ml_sh(tmp_path, **env)
    assert done.returncode == 2
    assert done.stderr.strip() == line and done.stdout == ""


# --------------------------------------------------------------------------- data


def test_the_fixture_has_the_16_configs_of_the_track_with_accented_text(tmp_path: Path) -> None:
    import datasets

    folder = write_multilingual_folder(tmp_path / "ml", per_config=2)
    assert sorted(datasets.get_dataset_config_names(str(folder))) == sorted(MULTILINGUAL_CONFIGS)
    sentences = multilingual_sentences()
    assert set(sentences) == {"de", "fr", "it", "es", "pt", "nl"}
    accents = {"de": "äöüß", "fr": "éèçêàœ", "it": "àèéìòù", "es": "ñáéíóú¿", "pt": "ãõçáéó"}
    accents["nl"] = "é’'"
    for lang, texts in sentences.items():
        assert any(ch in "".join(texts) for ch in accents[lang]), lang
        assert any(ch.isdigit() for ch in "".join(texts)), lang  # numbers, for num2words


async def test_use_url_reads_the_sentence_column_and_sends_the_language(tmp_path: Path) -> None:
    """`--use_url` pages the dataset viewer: its rows carry Common Voice's `sentence` column,
    which is the reference, and the config's language still reaches the provider."""
    hub = tmp_path / "hub"
    dataset = "hf-audio/open-asr-leaderboard-multilingual-datasets"
    write_multilingual_folder(
        hub / dataset, ("mcv_fr",), per_config=PER_CONFIG, text_columns={"mcv_fr": "sentence"}
    )
    results = tmp_path / "results"
    async with MockServer(MockConfig(viewer_root=hub)) as mock:
        env = base_urls(mock.url) | {"HF_DATASETS_SERVER_URL": mock.url}
        proc = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "asyncbench",
            "run",
            "--use_url",
            "--model_name",
            "openai/gpt-4o-transcribe",
            "--dataset_path",
            dataset,
            "--dataset",
            "mcv_fr",
            "--results_dir",
            results,
            "--no_progress",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=cli_env(**env),
            cwd=REPO,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 300)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert mock.state.counters["openai.language.fr"] == PER_CONFIG
    rows = [r for f in results.glob("*.jsonl") for r in read_results(f)]
    assert len(rows) == PER_CONFIG
    assert all(r["text"] and r["pred_text"] == r["text"] for r in rows)
    assert {r["text"] for r in rows} <= set(multilingual_sentences()["fr"])
