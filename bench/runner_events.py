#!/usr/bin/env python3
"""Benchmark: event throughput of `car-runner`, and its idle memory.

A Python agent prints 200,000 log lines; one reader follows the run's
events over HTTP (`GET /v1/runs/{id}/events`, NDJSON) from the moment the
run is posted until `run.finished`, and checks that every line arrived, in
order, exactly once. The baseline, measured in the same run, is a plain
loopback copy of the same bytes: the same producer (same Python, same
environment) with its stdout copied in 64 KiB chunks over a loopback TCP
connection to a reader that counts lines. Target: the runner's lines per
second at least 50% of the baseline's, no line lost.

Then the runner's resident memory after it has idled with no run going.
Target: under 10 MiB.

Usage: python3 bench/runner_events.py   (builds target/release/car-runner)
Environment: BENCH_LINES (200000), BENCH_ROUNDS (3, best of), BENCH_IDLE (10 s)
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request
from benchlib import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINES = int(os.environ.get("BENCH_LINES", "200000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
IDLE = float(os.environ.get("BENCH_IDLE", "10"))
TOKEN = "bench-runner-token-0123456789"

# The producer: the same source runs as the agent and as the baseline.
PRODUCER = f"""
import sys
write = sys.stdout.write
for i in range({LINES}):
    write("line %06d: pool tank ONLINE, scrub repaired 0B in 00:12:31 with 0 errors\\n" % i)
"""
EXPECTED_LEN = len("line 000000: pool tank ONLINE, scrub repaired 0B in 00:12:31 with 0 errors")


def producer_env():
    # What the runner gives a script that matters for speed: unbuffered output, so lines stream live.
    return {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def baseline(script):
    """Seconds for the producer's lines to cross a plain loopback TCP copy."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    relay = (
        "import os, socket, sys\n"
        f"s = socket.create_connection(('127.0.0.1', {port}))\n"
        "while True:\n"
        "    b = os.read(0, 65536)\n"
        "    if not b: break\n"
        "    s.sendall(b)\n"
        "s.close()\n"
    )
    t0 = time.perf_counter()
    prod = subprocess.Popen([sys.executable, script], stdout=subprocess.PIPE, env=producer_env())
    copy = subprocess.Popen([sys.executable, "-c", relay], stdin=prod.stdout)
    prod.stdout.close()
    conn, _ = server.accept()
    lines = 0
    while True:
        b = conn.recv(1 << 16)
        if not b:
            break
        lines += b.count(b"\n")
    elapsed = time.perf_counter() - t0
    prod.wait(), copy.wait()
    conn.close(), server.close()
    assert lines == LINES, f"the baseline copied {lines} lines"
    return elapsed


def call(url, body=None):
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=60)


def through_runner(base, source, run_id):
    """Seconds from POST /v1/runs to `run.finished` at an HTTP reader; checks every line."""
    agent = {"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": "chatty"},
             "spec": {"script": "chatty.py", "mode": "read-only", "timeout": "10m"}}
    t0 = time.perf_counter()
    call(f"{base}/v1/runs", {"run_id": run_id, "agent": agent, "files": {"chatty.py": source}})
    resp = call(f"{base}/v1/runs/{run_id}/events?after=0")
    body = resp.read()  # the stream ends after run.finished
    elapsed = time.perf_counter() - t0
    # Checked after the clock stops, so the check's own cost is not counted.
    seen, last_seq, finished = 0, 0, None
    for raw in body.splitlines():
        ev = json.loads(raw)
        assert ev["seq"] == last_seq + 1, f"gap after seq {last_seq}"
        last_seq = ev["seq"]
        if ev["type"] == "log":
            line = ev["data"]["line"]
            assert line.startswith("line %06d:" % seen) and len(line) == EXPECTED_LEN, f"line {seen} is {line!r}"
            seen += 1
        elif ev["type"] == "run.finished":
            finished = ev["data"]
    assert finished and finished["status"] == "succeeded", finished
    assert seen == LINES, f"the reader saw {seen} of {LINES} lines"
    return elapsed


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "car-runner"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="car-bench-runner-")
    script = os.path.join(tmp, "chatty.py")
    with open(script, "w") as f:
        f.write(PRODUCER)
    port = free_port()
    env = dict(os.environ, RUNNER_TOKEN=TOKEN, RUNNER_PORT=str(port), RUNNER_DATA_DIR=f"{tmp}/data",
               NODE_NAME="bench", RUST_LOG="warn")
    runner = subprocess.Popen([os.path.join(target, "release", "car-runner")], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/livez", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        # Idle memory first: a runner that has just started and served its health.
        call(f"{base}/v1/health").read()
        time.sleep(IDLE)
        idle = rss_kib(runner.pid)

        base_times, runner_times = [], []
        for r in range(ROUNDS):
            base_times.append(baseline(script))
            runner_times.append(through_runner(base, PRODUCER, f"bench-{r}"))
        b, t = min(base_times), min(runner_times)
        print(f"event throughput, {LINES:,} log lines to one HTTP reader (best of {ROUNDS}):")
        print(f"  car-runner        {t * 1000:8.0f} ms  {LINES / t:12,.0f} lines/s   (all {LINES:,} lines, in order, once)")
        print(f"  loopback copy     {b * 1000:8.0f} ms  {LINES / b:12,.0f} lines/s   (baseline: same producer, plain TCP)")
        print(f"  ratio             {b / t * 100:8.1f} %   (target >= 50%)")
        print(f"  all rounds (ms): runner {[round(x * 1000) for x in runner_times]}, baseline {[round(x * 1000) for x in base_times]}")
        print(f"idle RSS after {IDLE:.0f} s: {idle / 1024:.1f} MiB (target < 10 MiB); "
              f"after the runs: {rss_kib(runner.pid) / 1024:.1f} MiB")
    finally:
        runner.terminate()
        runner.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
