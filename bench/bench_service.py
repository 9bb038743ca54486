"""The service under load, on the loopback address: latency, throughput, errors, and the decision log.

Starts `irmer serve` on 127.0.0.1 (a free port, a decision log in a temporary
folder), sends REQUESTS requests to POST /v1/evaluate from CONCURRENCY
concurrent clients (aiohttp on asyncio, one incident a request, each with its own
X-Request-ID), and checks what a client relies on:

- every response is 200 and its body is the result `irmer evaluate` gives for
  the same incident (evaluated here, in-process);
- every decision answered is in the decision log, with the same result;

then stops the server with SIGTERM. It prints p50, p90, p99 and the largest
latency and the throughput, as the table of docs/performance.md ("Service").
The client runs on the same machine as the server and takes its share of the
cores: the figures are for the two together.

Run: `make bench`, or `python bench/bench_service.py [REQUESTS [CONCURRENCY]]`
(default 20,000 requests, 50 concurrent). tests/test_service.py runs a smaller
one. The load is bounded in count and in time, and goes only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_evaluate import incidents  # noqa: E402
from served import Served  # noqa: E402

from evaluator.batch import Item, Options, evaluate_item, make_versions, render  # noqa: E402
from evaluator.service.decision_log import read_log  # noqa: E402

# The whole run stops after this long, whatever happens (a bound in time as well as in count).
MAX_SECONDS = 600


@dataclass
class Load:
    """What a load run saw."""

    latencies: list[float] = field(default_factory=list)  # seconds, of the requests answered 200
    answered: dict[str, bytes] = field(default_factory=dict)  # request id -> body, for every 200
    failures: list[str] = field(default_factory=list)  # what went wrong with the others
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")

    @property
    def throughput(self) -> float:
        return len(self.answered) / self.seconds if self.seconds else 0.0


def bodies(count: int) -> list[bytes]:
    """Distinct incidents as request bodies (random, realistic, as bench_evaluate makes them)."""
    return [json.dumps(incident).encode() for incident in incidents(count)]


async def _run(url: str, payloads: list[bytes], total: int, concurrency: int,
               on_answer: Callable[[int], None] | None, load: Load) -> None:
    import aiohttp  # the client takes a small share of the cores (httpx's async client took 20 times more)
    numbers = iter(range(total))
    deadline = time.monotonic() + MAX_SECONDS

    async def client(http: aiohttp.ClientSession) -> None:
        for number in numbers:
            if time.monotonic() > deadline:
                load.failures.append("the run's time bound was reached")
                return
            ident = f"load-{number}"
            started = time.perf_counter()
            try:
                async with http.post("/v1/evaluate", data=payloads[number % len(payloads)],
                                     headers={"content-type": "application/json", "x-request-id": ident}) as response:
                    body = await response.read()
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                load.failures.append(f"{ident}: {type(error).__name__}")
                continue
            if status != 200:
                load.failures.append(f"{ident}: {status} {body[:200]!r}")
                continue
            load.latencies.append(time.perf_counter() - started)
            load.answered[ident] = body
            if on_answer is not None:
                on_answer(len(load.answered))

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        load.seconds = time.perf_counter() - started


def hammer(url: str, payloads: list[bytes], total: int, concurrency: int,
           on_answer: Callable[[int], None] | None = None) -> Load:
    """Send `total` requests from `concurrency` concurrent clients; `on_answer(count)` after each 200."""
    load = Load()
    asyncio.run(_run(url, payloads, total, concurrency, on_answer, load))
    return load


def expected(payloads: list[bytes]) -> list[bytes]:
    """Each body's response, as `irmer evaluate` writes the result of one incident."""
    versions = make_versions(None)
    options = Options(output="json", shape="object")
    return [(render(evaluate_item(Item(value=json.loads(body)), versions, options), options) + "\n").encode()
            for body in payloads]


def logged(log: Path) -> dict[str, dict]:
    """The decision log's entries by request id (one incident a request)."""
    return {entry["request_id"]: entry for entry in read_log(log)}


def check(load: Load, payloads: list[bytes], log: Path) -> list[str]:
    """What is wrong: a response unlike the in-process result, an answered decision missing from the log."""
    wanted = expected(payloads)
    entries = logged(log)
    problems = []
    for ident, body in load.answered.items():
        number = int(ident.split("-")[1])
        if body != wanted[number % len(payloads)]:
            problems.append(f"{ident}: the response differs from irmer evaluate's")
        entry = entries.get(ident)
        if entry is None:
            problems.append(f"{ident}: answered but not in the decision log")
        elif entry["result"] != json.loads(body):
            problems.append(f"{ident}: the log's result differs from the response")
    return problems


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    import os
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def baseline_decide(payloads: list[bytes]) -> float:
    """Seconds per request of the service's own work without HTTP or the log: reading the body, choosing the
    version, evaluating, writing the result and the log line (Decider.decide), in-process."""
    from evaluator.service.decide import Decider
    decider = Decider()
    for body in payloads[:100]:
        decider.decide(body, "application/json", request_id="warm", path="/v1/evaluate")
    started = time.perf_counter()
    for body in payloads:
        decider.decide(body, "application/json", request_id="bench", path="/v1/evaluate")
    return (time.perf_counter() - started) / len(payloads)


def baseline_fsync(folder: Path, count: int = 200) -> float:
    """The median time to append a 2 kB line to a file and fsync it, on the disk the log is on."""
    import os
    fd = os.open(folder / "fsync.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            os.write(fd, b"x" * 2047 + b"\n")
            os.fsync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
    return statistics.median(times)


def table(load: Load, single: Load, total: int, concurrency: int, server_cpu: float, decide: float,
          fsync: float) -> str:
    ms = lambda seconds: f"{seconds * 1000:.1f} ms"  # noqa: E731
    per_request = server_cpu / max(1, len(load.answered))
    rows = [("requests", f"{total:,} ({concurrency} concurrent)"), ("answered 200", f"{len(load.answered):,}"),
            ("errors", f"{len(load.failures):,}"), ("throughput", f"{load.throughput:,.0f} requests/s"),
            ("p50 latency", ms(load.percentile(50))), ("p90 latency", ms(load.percentile(90))),
            ("p99 latency", ms(load.percentile(99))), ("largest", ms(max(load.latencies, default=float("nan")))),
            ("server CPU per request", f"{ms(per_request)} ({per_request / decide:.1f} × the same work in-process, "
                                       f"{decide * 1e6:.0f} µs)"),
            ("wall time", f"{load.seconds:.1f} s"),
            (f"one client alone ({len(single.answered):,} requests): p50 / p99",
             f"{ms(single.percentile(50))} / {ms(single.percentile(99))} (one write and fsync on this disk: "
             f"{ms(fsync)})")]
    return "\n".join(["| | |", "|---|---|"] + [f"| {name} | {value} |" for name, value in rows])


def main(total: int = 20_000, concurrency: int = 50) -> int:
    payloads = bodies(1000)
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "decisions.jsonl"
        with Served(Path(folder), log) as server:
            hammer(server.url, payloads[:50], 200, concurrency)  # warm up: connections, first requests
            single = hammer(server.url, payloads, 1000, 1)  # the latency of a request that waits for no other
            before = cpu_seconds(server.process.pid)
            load = hammer(server.url, payloads, total, concurrency)
            server_cpu = cpu_seconds(server.process.pid) - before
            server.signal(signal.SIGTERM)
            status = server.wait()
            stopped = "Application shutdown complete" in server.stderr()
        problems = check(load, payloads, log) + load.failures[:20]
        entries = sum(1 for _ in read_log(log))
        fsync = baseline_fsync(Path(folder))
    decide = baseline_decide(payloads)
    print("irmer serve on 127.0.0.1: POST /v1/evaluate, one incident a request, decision log fsynced\n")
    print(table(load, single, total, concurrency, server_cpu, decide, fsync))
    print(f"\ndecisions in the log: {entries:,} (warm-up and the lone client included); after SIGTERM the server "
          f"{'shut down gracefully' if stopped else 'did NOT shut down gracefully'}")
    for problem in problems[:20]:
        print("PROBLEM:", problem)
    # uvicorn ends a process stopped by SIGTERM with that signal, once its requests have finished.
    return 1 if problems or status != -signal.SIGTERM or not stopped or load.failures else 0


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]
    sys.exit(main(*arguments))
