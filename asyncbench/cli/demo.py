"""`asyncbench demo` (what `make demo` runs): the whole job on a built-in default, offline.

It builds a small speech set spoken by flite in the ESB hub layout, starts real pocketsphinx
recognisers on several local ports (`asyncbench serve`, in its own process), runs the
benchmark over every split of the set with requests spread over the ports, then prints the
leaderboard-style score table. No key, no network, and the same code paths as a real run:
`datasets` streaming from a hub-layout folder, the engine, the Aldea client, the scorer.
A second `make demo` resumes: finished splits are skipped and the table is printed again.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

DEMO_MODEL = "aldea/pocketsphinx"
DEFAULT_PORTS = tuple(range(8800, 8804))


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(n: int) -> list[int]:
    """8800.. when free (the seed's ports), else any free ports."""
    preferred = [p for p in DEFAULT_PORTS[:n] if _free(p)]
    if len(preferred) == n:
        return preferred
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in ports:
            ports.append(port)
    return ports


def demo_command(
    data_dir: Annotated[
        Path, typer.Option("--data_dir", "--data-dir", help="Where the demo speech set is built")
    ] = Path("demo_data/esb"),
    results_dir: Annotated[
        Path, typer.Option("--results_dir", "--results-dir", help="Where results files go")
    ] = Path("results"),
    servers: Annotated[int, typer.Option("--servers", help="Local ASR ports to start")] = 4,
    max_workers: Annotated[
        int, typer.Option("--max_workers", "--max-workers", help="Requests in flight")
    ] = 16,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Forget earlier demo results and measure again")
    ] = False,
) -> None:
    from asyncbench.core.errors import ConfigError
    from asyncbench.results.store import results_name
    from asyncbench.runs.runner import RunConfig, run
    from asyncbench.scoring import score_results
    from asyncbench.servers.serve import ServerProcess
    from asyncbench.sources.demo_data import build_demo_dataset, load_demo_sentences

    if servers < 1 or max_workers < 1:
        raise ConfigError("--servers and --max_workers must be at least 1")
    err = sys.stderr
    print(f"1/4 building the demo speech set (flite) in {data_dir} ...", file=err, flush=True)
    build_demo_dataset(data_dir)
    splits = [
        (config, split)
        for config, entries in load_demo_sentences()["configs"].items()
        for split in entries
    ]
    if fresh:
        for config, split in splits:
            path = results_dir / results_name(DEMO_MODEL, str(data_dir), config, split)
            path.unlink(missing_ok=True)

    ports = pick_ports(servers)
    print(f"2/4 starting pocketsphinx on 127.0.0.1 ports {ports} ...", file=err, flush=True)
    with ServerProcess(ports) as server:
        endpoints = " ".join(server.endpoints)
        for n, (config, split) in enumerate(splits, 1):
            print(f"3/4 [{n}/{len(splits)}] {config}/{split}", file=err, flush=True)
            code = run(
                RunConfig(
                    model_name=DEMO_MODEL,
                    dataset=config,
                    dataset_path=str(data_dir),
                    split=split,
                    max_workers=max_workers,
                    aldea_endpoints=endpoints,
                    results_dir=results_dir,
                )
            )
            if code:
                raise typer.Exit(code)
    print("4/4 scores", file=err, flush=True)
    score_results(str(results_dir), DEMO_MODEL)
