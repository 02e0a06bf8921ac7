"""A bounded load test of the chat server's `/ask` API, on this machine only (127.0.0.1).

Starts `qa chat` on a free port, records each question's single-user answer (one client,
sequential, twice: the answers must be stable), then runs N client threads for D seconds, each
looping over the same questions through Gradio's two-step HTTP API (POST /gradio_api/call/ask,
then GET its event stream). Every response must be a complete answer identical to the
single-user one. Prints requests, errors, mismatches, throughput, latency percentiles and the
server's peak RSS; exits 1 on any error or mismatch, 2 if the server cannot be started.

    python bench/load.py                       # 20 clients x 60 s on the default corpus
    python bench/load.py --clients 4 --seconds 5 --json
    python bench/load.py --concurrency-limit 1 # compare a queue setting without editing qa/app.py

Bounded: the load stops by itself after --seconds (requests in flight may finish, each within
--timeout), and the server is stopped at the end, on Ctrl-C and on SIGTERM; if this process is
killed outright, Linux sends the server SIGTERM (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

HOST = "127.0.0.1"  # loopback only, never another machine
REQUIRED = {"route": str, "answer_markdown": str, "quotes": list, "sources": list, "disclaimer": str}

# A fixed mix of what users ask: the route the default corpus gives each is printed, not asserted
# (routing quality is `qa eval`'s job; this checks that load changes nothing).
QUESTIONS = (
    "How fast does ketamine work?",                          # answerable
    "What are the side effects?",                            # answerable
    "Which receptor does ketamine block?",                   # answerable
    "how fst does ketamin work",                             # answerable, typos
    "Does insurance cover ketamine therapy for depression?",  # no answer in the corpus
    "Is ketamine addictive?",                                # no answer in the corpus
    "What is the capital of Australia?",                     # out of scope
    "I want to end it all.",                                 # crisis
    "What dose of ketamine should I take?",                  # medical advice
    "Should I stop my sertraline to try ketamine?",          # medical advice
)


class RequestFailed(Exception):
    """One request did not return a complete answer; `kind` groups the failures in the summary."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


@dataclass
class Result:
    question: int
    started: float
    seconds: float
    outcome: str  # "ok", "mismatch" or the RequestFailed kind
    detail: str = ""


@dataclass
class Summary:
    clients: int
    seconds: float
    queue_override: dict
    questions: list[dict]
    single_user_ms: dict
    elapsed_s: float = 0.0
    requests: int = 0
    ok: int = 0
    errors: int = 0
    mismatches: int = 0
    error_kinds: dict = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    throughput_rps: float = 0.0
    latency_ms: dict = field(default_factory=dict)
    server_peak_rss_mb: float | None = None
    server_peak_rss_mb_before_load: float | None = None
    server_cpu_s_during_load: float | None = None
    client_cpu_s_during_load: float = 0.0
    load_average_before: list[float] = field(default_factory=list)
    interrupted: bool = False


# ---- one request ---------------------------------------------------------------------------

def ask(client: httpx.Client, base: str, question: str, timeout: float) -> dict:
    """One call of `/ask` over plain HTTP; the answer object, or RequestFailed."""
    started = time.perf_counter()
    try:
        posted = client.post(f"{base}/gradio_api/call/ask", json={"data": [question]})
        if posted.status_code == 503:
            raise RequestFailed("rejected", posted.text[:200])  # the queue is full (max_size)
        if posted.status_code != 200:
            raise RequestFailed("http", f"POST {posted.status_code} {posted.text[:200]}")
        try:
            event_id = posted.json()["event_id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RequestFailed("http", f"POST gave no event id: {posted.text[:200]}") from exc
        event = None
        with client.stream("GET", f"{base}/gradio_api/call/ask/{event_id}") as stream:
            if stream.status_code != 200:
                raise RequestFailed("http", f"GET {stream.status_code}")
            for line in stream.iter_lines():
                if time.perf_counter() - started > timeout:
                    raise RequestFailed("timeout", f"no answer within {timeout} s")
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event in ("complete", "error"):
                    data = line.removeprefix("data: ")
                    if event == "error":
                        raise RequestFailed("server_error", data[:200])
                    return _complete(data)
        raise RequestFailed("incomplete", "the event stream ended without a result")
    except httpx.TimeoutException as exc:
        raise RequestFailed("timeout", f"{type(exc).__name__} after {time.perf_counter() - started:.1f} s") from exc
    except httpx.HTTPError as exc:
        raise RequestFailed("connection", f"{type(exc).__name__}: {exc}") from exc


def _complete(data: str) -> dict:
    """The answer in a `complete` event, checked to have every field the chat page needs."""
    try:
        outputs = json.loads(data)
    except json.JSONDecodeError as exc:
        raise RequestFailed("invalid_json", str(exc)) from exc
    if not (isinstance(outputs, list) and len(outputs) == 1 and isinstance(outputs[0], dict)):
        raise RequestFailed("incomplete", f"expected one JSON object, got {data[:120]}")
    answer = outputs[0]
    for key, kind in REQUIRED.items():
        if not isinstance(answer.get(key), kind):
            raise RequestFailed("incomplete", f"{key!r} missing or not a {kind.__name__}")
    if not answer["answer_markdown"] or not answer["disclaimer"]:
        raise RequestFailed("incomplete", "empty answer_markdown or disclaimer")
    return answer


def _differences(got: dict, want: dict) -> str:
    keys = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
    return "differs in " + ", ".join(keys)


# ---- the server ----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies (Linux only)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass


# `qa chat` with demo.queue(...)'s keywords overridden, to compare settings without editing qa/app.py
_OVERRIDE = """import sys, gradio as gr
from qa.cli import main
_queue, _over = gr.Blocks.queue, {over!r}
gr.Blocks.queue = lambda self, *a, **kw: _queue(self, *a, **{{**kw, **_over}})
sys.exit(main(sys.argv[1:]))
"""


def start_server(args, port: int, log) -> subprocess.Popen:
    chat = ["chat", "--host", HOST, "--port", str(port)]
    for flag in ("corpus", "index", "model"):
        if getattr(args, flag):
            chat += [f"--{flag}", str(getattr(args, flag))]
    over = queue_override(args)
    cmd = [sys.executable, "-c", _OVERRIDE.format(over=over)] if over else [sys.executable, "-m", "qa.cli"]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    env.pop("QA_FEEDBACK_LOG", None)  # a load test must never write to anyone's feedback log
    return subprocess.Popen(cmd + chat, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True,  # Ctrl-C reaches us; we stop it ourselves
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)


def queue_override(args) -> dict:
    over = {}
    if args.concurrency_limit is not None:
        over["default_concurrency_limit"] = args.concurrency_limit
    if args.max_size is not None:
        over["max_size"] = args.max_size
    return over


def wait_until_ready(proc: subprocess.Popen, base: str, limit: float) -> None:
    deadline = time.monotonic() + limit
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"`qa chat` exited with status {proc.returncode}")
            try:
                if client.get(base + "/").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
    raise RuntimeError(f"`qa chat` did not answer within {limit:.0f} s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (the resident set's high-water mark) of a live process, in MiB; None off Linux."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# ---- the load ------------------------------------------------------------------------------

def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def single_user(base: str, timeout: float) -> tuple[list[dict], list[float]]:
    """Each question's answer with nobody else asking, asked twice: the answers must agree,
    or comparing answers under load would mean nothing."""
    with httpx.Client(trust_env=False, timeout=timeout) as client:
        first = [ask(client, base, q, timeout) for q in QUESTIONS]
        answers, times = [], []
        for question, before in zip(QUESTIONS, first):
            started = time.perf_counter()
            answer = ask(client, base, question, timeout)
            times.append(time.perf_counter() - started)
            if answer != before:
                raise RuntimeError(f"two single-user answers to {question!r} differ ({_differences(answer, before)})")
            answers.append(answer)
    return answers, times


def client_loop(n: int, base: str, expected: list[dict], deadline: float, timeout: float,
                stop: threading.Event, results: list[Result]) -> None:
    """One client: ask the questions in turn, starting at question n, until the deadline."""
    i = n % len(QUESTIONS)
    with httpx.Client(trust_env=False, timeout=timeout) as client:
        while time.monotonic() < deadline and not stop.is_set():
            started = time.perf_counter()
            try:
                answer = ask(client, base, QUESTIONS[i], timeout)
                outcome, detail = ("ok", "") if answer == expected[i] else \
                    ("mismatch", _differences(answer, expected[i]))
            except RequestFailed as exc:
                outcome, detail = exc.kind, exc.detail
            except Exception as exc:  # a bug here must count as an error, not end the client silently
                outcome, detail = "client_bug", f"{type(exc).__name__}: {exc}"
            results.append(Result(i, started, time.perf_counter() - started, outcome, detail))  # atomic
            i = (i + 1) % len(QUESTIONS)


def run_load(base: str, expected: list[dict], clients: int, seconds: float, timeout: float,
             stop: threading.Event, results: list[Result]) -> None:
    """`clients` threads until the deadline; each result is appended to `results` as it ends."""
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=client_loop, args=(n, base, expected, deadline, timeout, stop, results),
                                name=f"client-{n}", daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():  # join in slices so Ctrl-C is handled at once
            t.join(0.2)


def summarise(summary: Summary, results: list[Result], elapsed: float) -> None:
    kinds = Counter(r.outcome for r in results)
    summary.elapsed_s = round(elapsed, 3)
    summary.requests = len(results)
    summary.ok = kinds.pop("ok", 0)
    summary.mismatches = kinds.pop("mismatch", 0)
    summary.errors = sum(kinds.values())
    summary.error_kinds = dict(kinds)
    summary.samples = [f"{QUESTIONS[r.question] if r.question >= 0 else 'server'!r}: {r.outcome}: {r.detail}"
                       for r in results if r.outcome != "ok"][:5]
    times = sorted(r.seconds * 1000 for r in results if r.outcome in ("ok", "mismatch"))  # answered
    summary.throughput_rps = round(len(times) / elapsed, 2) if elapsed else 0.0
    if times:
        summary.latency_ms = {"p50": round(percentile(times, 50), 1), "p95": round(percentile(times, 95), 1),
                              "p99": round(percentile(times, 99), 1), "max": round(times[-1], 1)}


def report(s: Summary) -> str:
    lat = s.latency_ms or dict.fromkeys(("p50", "p95", "p99", "max"), float("nan"))
    mb = lambda v: "n/a" if v is None else f"{v:.0f} MiB"  # noqa: E731
    lines = [
        f"load: {s.clients} clients x {s.seconds:g} s on 127.0.0.1"
        + (f", queue override {s.queue_override}" if s.queue_override else "")
        + (" (interrupted)" if s.interrupted else ""),
        "single-user answers:",
        *(f"  {q['route']:<15} {q['ms']:6.1f} ms  {q['question']}" for q in s.questions),
        f"requests done:  {s.requests} in {s.elapsed_s:.1f} s ({s.ok} ok)",
        f"errors:         {s.errors}" + (f"  {s.error_kinds}" if s.error_kinds else ""),
        f"mismatches:     {s.mismatches}",
        f"throughput:     {s.throughput_rps:.1f} answers/s",
        f"latency:        p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms, p99 {lat['p99']:.0f} ms, "
        f"max {lat['max']:.0f} ms (single user: p50 {s.single_user_ms.get('p50', float('nan')):.0f} ms)",
        f"server peak RSS: {mb(s.server_peak_rss_mb)} (before the load: {mb(s.server_peak_rss_mb_before_load)})",
        f"CPU during load: server {s.server_cpu_s_during_load or 0:.1f} s, this client {s.client_cpu_s_during_load:.1f} s"
        f" (load average before: {', '.join(f'{x:.2f}' for x in s.load_average_before)})",
    ]
    lines += [f"  {sample}" for sample in s.samples]
    return "\n".join(lines)


# ---- the command ---------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Load-test `qa chat`'s /ask API on 127.0.0.1 for a fixed time.")
    p.add_argument("--clients", type=int, default=20, help="concurrent clients, one thread each (default 20)")
    p.add_argument("--seconds", type=float, default=60, help="how long the load runs (default 60)")
    p.add_argument("--port", type=int, default=0, help="port for the server (default: a free one)")
    p.add_argument("--corpus", type=Path, default=None, help="passed to `qa chat` (default: its default corpus)")
    p.add_argument("--index", type=Path, default=None, help="passed to `qa chat` (default: its default index)")
    p.add_argument("--model", default=None, help="passed to `qa chat` (default: the bundled model)")
    p.add_argument("--timeout", type=float, default=30, help="seconds one request may take (default 30)")
    p.add_argument("--start-timeout", type=float, default=300,
                   help="seconds the server may take to answer at all, index build included (default 300)")
    p.add_argument("--concurrency-limit", type=int, default=None,
                   help="override demo.queue(default_concurrency_limit=...) to compare settings")
    p.add_argument("--max-size", type=int, default=None, help="override demo.queue(max_size=...)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return p


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.timeout <= 0:
        parser.error("--clients must be at least 1; --seconds and --timeout above 0")
    if args.port and not _port_is_free(args.port):
        parser.error(f"port {args.port} on {HOST} is in use; pick another --port or leave it out")
    signal.signal(signal.SIGTERM, _sigterm)
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731  (stdout is for the summary)

    port = args.port or _free_port()
    base = f"http://{HOST}:{port}"
    stop = threading.Event()
    with tempfile.NamedTemporaryFile("w+", prefix="qa-load-", suffix=".log") as log:
        say(f"starting `qa chat` on {base} …")
        started = time.perf_counter()
        proc = start_server(args, port, log)
        try:
            try:
                wait_until_ready(proc, base, args.start_timeout)
                say(f"server answers after {time.perf_counter() - started:.1f} s; single-user answers …")
                expected, times = single_user(base, args.timeout)
            except (RuntimeError, RequestFailed) as exc:
                log.flush()
                log.seek(0)
                say(f"load: error: {exc}\n--- server log (last 30 lines) ---\n"
                    + "\n".join(log.read().splitlines()[-30:]))
                return 2
            summary = Summary(
                args.clients, args.seconds, queue_override(args),
                [{"question": q, "route": a["route"], "ms": round(t * 1000, 1)}
                 for q, a, t in zip(QUESTIONS, expected, times)],
                {"p50": round(percentile(sorted(t * 1000 for t in times), 50), 1),
                 "max": round(max(times) * 1000, 1)},
                server_peak_rss_mb_before_load=peak_rss_mb(proc.pid),
                load_average_before=[round(x, 2) for x in os.getloadavg()])
            say(f"load: {args.clients} clients for {args.seconds:g} s …")
            server_cpu, client_cpu = cpu_seconds(proc.pid), time.process_time()
            results: list[Result] = []
            load_started = time.perf_counter()
            try:
                run_load(base, expected, args.clients, args.seconds, args.timeout, stop, results)
            except KeyboardInterrupt:
                stop.set()
                results = list(results)  # what finished before Ctrl-C; the rest is cut off
                summary.interrupted = True
                say("interrupted: stopping the server")
            elapsed = time.perf_counter() - load_started
            summary.client_cpu_s_during_load = round(time.process_time() - client_cpu, 2)
            server_cpu_after = cpu_seconds(proc.pid)
            if server_cpu is not None and server_cpu_after is not None:
                summary.server_cpu_s_during_load = round(server_cpu_after - server_cpu, 2)
            summary.server_peak_rss_mb = peak_rss_mb(proc.pid)
            if proc.poll() is not None:
                results.append(Result(-1, 0, 0, "server_died", f"exit status {proc.returncode}"))
        except KeyboardInterrupt:
            say("interrupted: stopping the server")
            return 130
        finally:
            stop.set()
            stop_server(proc)

    summarise(summary, results, elapsed)
    print(json.dumps(asdict(summary), indent=2) if args.json else report(summary), flush=True)
    if summary.interrupted:
        return 130
    return 1 if summary.errors or summary.mismatches or not summary.requests else 0


if __name__ == "__main__":
    sys.exit(main())
