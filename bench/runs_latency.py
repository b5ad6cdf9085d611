#!/usr/bin/env python3
"""Benchmark: latency of runs end to end through `car-server`, model excluded.

a) Dispatch latency: a script agent whose script prints one line is started
   BENCH_RUNS times (200), one after the other, with `POST /api/v1/runs`;
   measured is the time from just before the client sends the POST to the
   `ts` of the run's `run.started` event, which the runner stamps when it
   starts the run (same machine, same clock). The event is read from the
   run's WebSocket replay (`GET /api/v1/runs/{id}/stream`), opened right
   after the POST as the dashboard does, until `run.finished`; the next run
   starts after that. Baseline, measured in the same run and interleaved
   run for run: the same agent posted straight to the runner
   (`POST /v1/runs` with the runner token) to its `run.started` — the floor
   without the server. Target: p99 < 50 ms.

b) Log latency: a script agent prints BENCH_LOG_RATE (10,000) lines per
   second for BENCH_LOG_SECONDS (5) s, paced, each carrying its own
   `time.time()`; one WebSocket client on the server's stream measures
   now - that time for every line as its bytes arrive. Checked: every line
   arrives, in order, once (no `gap` marker). Baseline in the same run: the
   same script posted straight to the runner, its lines read from the
   runner's NDJSON `GET /v1/runs/{id}/events`. Target: p99 < 50 ms while
   streaming 10,000 lines/s. Also printed: the part of it before the runner
   (printed -> the runner's event `ts`), and how many PostgreSQL commits the
   server made while it followed the run.

The server runs with its own PostgreSQL (no DATABASE_URL) under a temp dir,
the runner beside it on loopback; a minimal RFC 6455 client below (standard
library only) reads the WebSocket. Latencies on a 2-core machine depend on
what else runs on it: each part waits (up to BENCH_QUIET_WAIT s) until other
processes are nearly idle, and the CPU they used meanwhile is printed.

Usage: python3 bench/runs_latency.py   (builds target/release/car-server and car-runner)
Environment: BENCH_RUNS (200), BENCH_WARMUP (10), BENCH_LOG_RATE (10000),
BENCH_LOG_SECONDS (5), BENCH_QUIET_WAIT (300), CARGO_TARGET_DIR
"""
import base64, hashlib, http.client, json, os, shutil, socket, subprocess, tempfile, time
from benchlib import ADMIN_ENV, Api, Machine, agent_doc, api_key, free_port, percentile, stop_server, ts_seconds, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "10"))
RATE = int(os.environ.get("BENCH_LOG_RATE", "10000"))
SECONDS = float(os.environ.get("BENCH_LOG_SECONDS", "5"))
LINES = int(RATE * SECONDS)
TOKEN = "bench-runs-runner-token-0123456789"
TARGET_MS = 50

NOOP = 'print("ok", flush=True)\n'
# Paced: line i is due at start + i / RATE; each line carries the time it was printed.
CHATTY = f"""
import sys, time
rate, lines = {RATE}, {LINES}
out = sys.stdout
start = time.time()
for i in range(lines):
    due = start + i / rate
    now = time.time()
    if due - now > 0.0005:
        time.sleep(due - now)
    out.write(f"{{time.time():.6f}} line {{i}}\\n")
    out.flush()
"""


class WebSocket:
    """A minimal RFC 6455 client: text messages in, close out. Frames from
    the client are masked, the server's are not. `at` is the wall-clock time
    at which the bytes of the last message returned arrived."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, host, port, path, token):
        self.sock = socket.create_connection((host, port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Authorization: Bearer {token}\r\n\r\n").encode())
        self.buf, self.at = b"", 0.0
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise RuntimeError(f"WebSocket upgrade refused: {head.decode(errors='replace')}")
        accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        if not any(l.lower().startswith("sec-websocket-accept:") and l.split(":", 1)[1].strip() == accept for l in lines):
            raise RuntimeError("bad Sec-WebSocket-Accept")
        self.pos = 0

    def _fill(self):
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise EOFError("the server closed the connection")
        self.at = time.time()
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) - self.pos < n:
            self.buf, self.pos = self.buf[self.pos:], 0
            self._fill()
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def _send(self, opcode, payload=b""):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0xFE]) + n.to_bytes(2, "big"))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self):
        """The next text message, or None when the server closed."""
        parts = []
        while True:
            b0, b1 = self._take(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._take(2), "big")
            elif n == 127:
                n = int.from_bytes(self._take(8), "big")
            mask = self._take(4) if b1 & 0x80 else None
            payload = self._take(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                try:
                    self._send(0x8, payload[:2])
                except OSError:
                    pass
                return None
            if opcode == 0x9:
                self._send(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts).decode()

    def close(self):
        try:
            self._send(0x8, (1000).to_bytes(2, "big"))
        except OSError:
            pass
        self.sock.close()


def server_events(port, token, run_id):
    """Every event of a run from the server's WebSocket, until `run.finished`."""
    ws = WebSocket("127.0.0.1", port, f"/api/v1/runs/{run_id}/stream", token)
    events = []
    try:
        while True:
            text = ws.recv()
            if text is None:
                break
            events.append(json.loads(text))
            if events[-1]["type"] == "run.finished":
                break
    finally:
        ws.close()
    return events


def runner_events(port, run_id, on_line=None):
    """Every event of a run from the runner's NDJSON stream; `on_line(arrival, raw)` per line if given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"/v1/runs/{run_id}/events?after=0", headers={"Authorization": f"Bearer {TOKEN}"})
    resp = conn.getresponse()
    assert resp.status == 200, resp.status
    events, rest = [], b""
    while True:
        chunk = resp.read1(1 << 18)
        if not chunk:
            break
        at = time.time()
        rest += chunk
        *lines, rest = rest.split(b"\n")
        for raw in lines:
            if on_line:
                on_line(at, raw)
            else:
                events.append(json.loads(raw))
    conn.close()
    return events


def started_ts(events):
    ev = next(e for e in events if e["type"] == "run.started")
    fin = events[-1]
    assert fin["type"] == "run.finished" and fin["data"]["status"] == "succeeded", fin
    return ts_seconds(ev["ts"])


def main():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "car-server", "-p", "car-runner"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="car-bench-runs-")
    os.chmod(tmp, 0o755)  # the embedded PostgreSQL runs as the postgres user
    runner_port, api_port = free_port(), free_port()
    config = f"{tmp}/config"
    os.makedirs(f"{config}/scripts")
    open(f"{config}/nodes.yaml", "w").write(
        f"apiVersion: car/v1\nkind: Node\nmetadata: {{name: bench}}\nspec:\n  address: http://127.0.0.1:{runner_port}\n"
        f"  token: {{env: BENCH_RUNNER_TOKEN}}\n  os: linux\n")
    docs = []
    for name in ("noop", "chatty"):
        open(f"{config}/scripts/{name}.py", "w").write(NOOP if name == "noop" else CHATTY)
        docs.append(f"apiVersion: car/v1\nkind: Agent\nmetadata: {{name: {name}}}\nspec:\n"
                    f"  description: benchmark script agent {name}\n  script: scripts/{name}.py\n"
                    f"  mode: read-only\n  timeout: 5m\n")
    open(f"{config}/agents.yaml", "w").write("---\n".join(docs))

    runner_log, server_log = f"{tmp}/runner.log", f"{tmp}/server.log"
    runner = subprocess.Popen([os.path.join(target, "release", "car-runner")],
                              env=dict(os.environ, RUNNER_TOKEN=TOKEN, RUNNER_PORT=str(runner_port),
                                       RUNNER_DATA_DIR=f"{tmp}/runner-data", NODE_NAME="bench", RUST_LOG="warn"),
                              stdout=subprocess.DEVNULL, stderr=open(runner_log, "w"))
    env = dict(os.environ, CONFIG_REPO=config, DATA_DIR=f"{tmp}/data", API_PORT=str(api_port),
               UI_PORT=str(free_port()), BIND_ADDRESS="127.0.0.1", BENCH_RUNNER_TOKEN=TOKEN, RUST_LOG="warn", **ADMIN_ENV)
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen([os.path.join(target, "release", "car-server"), "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(server_log, "w"))
    api, direct = Api(api_port, api_key(f"http://127.0.0.1:{api_port}")), Api(runner_port, TOKEN)
    try:
        wait_for("the node connected", lambda: api.call("GET", "/api/v1/nodes/bench")[1]["connection"] == "connected",
                 120, server, server_log)
        wait_for("the agents went live", lambda: api.call("GET", "/api/v1/agents/chatty")[0] == 200, 60, server, server_log)
        machine = Machine()
        machine.postmaster = int(open(f"{tmp}/data/postgres/data/postmaster.pid").readline())

        # a) Dispatch latency, server and runner alternating run for run.
        seq = [0]

        def through_server(agent):
            t = time.time()
            status, run = api.call("POST", "/api/v1/runs", {"agent": agent, "node": "bench"})
            assert status == 202, (status, run)
            return t, run["id"]

        def through_runner(agent, source):
            seq[0] += 1
            run_id = f"bench-direct-{agent}-{seq[0]}"
            t = time.time()
            status, body = direct.call("POST", "/v1/runs", {"run_id": run_id, "agent": agent_doc(agent, f"scripts/{agent}.py"),
                                                            "files": {f"scripts/{agent}.py": source}})
            assert status == 202, (status, body)
            return t, run_id

        ours, floor = [], []
        quiet_a = machine.wait_quiet()
        machine.start()
        for i in range(WARMUP + RUNS):
            t, run_id = through_server("noop")
            lat = started_ts(server_events(api_port, api.token, run_id)) - t
            t, run_id = through_runner("noop", NOOP)
            base = started_ts(runner_events(runner_port, run_id)) - t
            if i >= WARMUP:
                ours.append(lat)
                floor.append(base)
        others_a = machine.others()

        # b) Log latency: one client on the server's WebSocket, then the runner's NDJSON.
        def measure(arrivals_of):
            """Latencies printed -> arrived and printed -> the runner's event ts; lines; gap markers.
            Events must come in order and once; a gap marker (a viewer that fell behind) skips some."""
            seen, lat, pipe, gaps, last_seq, last_line, finished = 0, [], [], 0, 0, -1, None
            for at, raw in arrivals_of:
                ev = json.loads(raw)
                if ev["type"] == "gap":
                    gaps += 1
                    last_seq = ev["data"]["to"]
                    continue
                assert ev["seq"] == last_seq + 1, f"seq {ev['seq']} after {last_seq}"
                last_seq = ev["seq"]
                if ev["type"] == "log":
                    stamp, _, n = ev["data"]["line"].split(" ", 2)
                    assert int(n) == last_line + 1 or gaps, f"line {n} after {last_line}"
                    assert int(n) > last_line, f"line {n} after {last_line}"
                    last_line = int(n)
                    lat.append(at - float(stamp))
                    pipe.append(ts_seconds(ev["ts"]) - float(stamp))
                    seen += 1
                elif ev["type"] == "run.finished":
                    finished = ev["data"]
            assert finished and finished["status"] == "succeeded", finished
            return lat, pipe, seen, gaps

        psql = ["psql", "-X", "-At", "-h", f"{tmp}/data/postgres/socket", "-p", "5432", "-U", "car", "-d", "car", "-c",
                "SELECT xact_commit FROM pg_stat_database WHERE datname = 'car'"]
        commits = lambda: int(subprocess.run(psql, check=True, capture_output=True, text=True).stdout)
        quiet_b = machine.wait_quiet()
        commits_before = commits()
        machine.start()
        _, run_id = through_server("chatty")
        ws = WebSocket("127.0.0.1", api_port, f"/api/v1/runs/{run_id}/stream", api.token)
        got = []
        while True:
            text = ws.recv()
            if text is None:
                break
            got.append((ws.at, text))
            if '"type":"run.finished"' in text:
                break
        ws.close()
        time.sleep(1.5)  # PostgreSQL publishes a backend's counters within a second
        # Less the first psql call's own; the idle server's polling adds a few a second.
        db_commits = commits() - commits_before - 1
        log_ours, pipe_ours, seen_ours, gaps_ours = measure(got)

        _, run_id = through_runner("chatty", CHATTY)
        got = []
        runner_events(runner_port, run_id, on_line=lambda at, raw: got.append((at, raw)))
        log_floor, pipe_floor, seen_floor, gaps_floor = measure(got)
        others_b = machine.others()
    finally:
        stop_server(server)
        runner.terminate()
        runner.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    ms = lambda xs, p: percentile(xs, p) * 1000
    verdict = lambda xs, ok=True: "met" if ok and ms(xs, 99) < TARGET_MS else "MISSED"
    print(f"a) dispatch latency, POST -> run.started, script agent, {RUNS} runs one after the other ({WARMUP} warm-up runs not counted):")
    print(f"  through car-server  p50 {ms(ours, 50):6.1f} ms   p99 {ms(ours, 99):6.1f} ms   max {ms(ours, 100):6.1f} ms"
          f"   (target p99 < {TARGET_MS} ms: {verdict(ours)})")
    print(f"  runner directly     p50 {ms(floor, 50):6.1f} ms   p99 {ms(floor, 99):6.1f} ms   max {ms(floor, 100):6.1f} ms"
          f"   (baseline: POST /v1/runs to the runner)")
    print(f"b) log latency, printed -> received, {RATE:,} lines/s for {SECONDS:g} s ({LINES:,} lines):")
    print(f"  server WebSocket    p50 {ms(log_ours, 50):6.1f} ms   p99 {ms(log_ours, 99):6.1f} ms   max {ms(log_ours, 100):6.1f} ms"
          f"   {seen_ours:,}/{LINES:,} lines, {gaps_ours} gaps   (target p99 < {TARGET_MS} ms, no loss: "
          f"{verdict(log_ours, seen_ours == LINES and not gaps_ours)})")
    print(f"  runner NDJSON       p50 {ms(log_floor, 50):6.1f} ms   p99 {ms(log_floor, 99):6.1f} ms   max {ms(log_floor, 100):6.1f} ms"
          f"   {seen_floor:,}/{LINES:,} lines   (baseline: GET /v1/runs/{{id}}/events on the runner)")
    print(f"  of which printed -> runner's event ts: p99 {ms(pipe_ours, 99):.1f} ms (server run), {ms(pipe_floor, 99):.1f} ms (baseline run)")
    print(f"  PostgreSQL commits while the server followed the run: {db_commits:,} ({LINES / max(db_commits, 1):.1f} lines each)")
    print(f"other processes on the machine kept {others_a:.2f} cores busy on average during a), {others_b:.2f} during b)"
          f" (before: {quiet_a:.2f}, {quiet_b:.2f}; {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
