#!/usr/bin/env python3
"""Benchmark: notification delivery through `car-server` — an event in the
`events` table to the HTTP request a Gotify server or a webhook receives.

The server (release build, its own PostgreSQL, no DATABASE_URL) runs with a
config of one node (a local `car-runner`), a script agent, two channels and
two rules, both on `node.disconnected`: `phone`, a Gotify channel, and
`hook`, a webhook channel. Both channels point at one fake receiver written
below (a threaded `http.server` on loopback): `POST /message` checks
`X-Gotify-Key`, notes the wall-clock time the whole request was in and
answers 200 with a Gotify Message; `POST /hook` notes the time and the
`Idempotency-Key`. Events are written straight into `events` through one
psql session on the embedded PostgreSQL's socket (as the server's own
writers do, the insert's trigger wakes the router), `at` set by
`clock_timestamp()`: the same machine clock as the receiver's.

a) Event -> Gotify POST received, channel healthy: BENCH_EVENTS (200)
   events, one INSERT each at BENCH_RATE (10) a second, each for another
   node (`bench-n<i>`), after BENCH_WARMUP (5) not counted. Latency = the
   receive time of the Gotify message naming the node - the event's `at`.
   Checked: every event arrives, and how many came grouped with another
   (a burst pages once; spaced events should each page alone). Baseline,
   interleaved half a period after each event: the same JSON posted by this
   process to the same receiver (keep-alive connection, as the server's
   client has), from just before the request to the receive time.
   Target: p99 < 100 ms.
b) A burst: BENCH_BURST (1,000) events in one INSERT, distinct nodes; each
   must reach the webhook once: distinct Idempotency-Keys = total POSTs =
   BENCH_BURST, counted until 3 s after the last. Printed: the time from the
   first event's `at` to the last POST received, and the rate. (The Gotify
   rule fires for them too: printed is into how many messages the burst was
   grouped and that they name every node once.) Baseline, in the same run:
   BENCH_BURST POSTs of a webhook body from this process to the same
   receiver, 8 threads each with a keep-alive connection, first request to
   the last received.
c) Run dispatch while a burst drains: `POST /api/v1/runs` of a script agent
   that prints one line until its status is no longer `queued` (polling
   `GET /api/v1/runs/{id}` every 5 ms), each run awaited to its end before
   the next: BENCH_DISPATCH (20) runs while idle, then another burst of
   BENCH_BURST events is inserted and runs are measured at once, for as long
   as that burst has not all reached the webhook; then the next burst, until
   BENCH_DISPATCH runs were measured while one drained (each burst checked
   to reach the webhook once per event).
   Also printed: the same from the run's own transition time (the server's
   clock, no polling step). Target: it does not move.

Each part waits (up to BENCH_QUIET_WAIT s) until other processes are nearly
idle and prints the CPU they used meanwhile (the machine may be shared),
and the CPU of this benchmark's own processes by who used it (car-server,
its PostgreSQL, car-runner, this process with the fake receiver).

Usage: python3 bench/notify.py   (builds release car-server, without the dashboard, and car-runner)
Environment: BENCH_RATE (10), BENCH_EVENTS (200), BENCH_WARMUP (5), BENCH_BURST (1000),
BENCH_DISPATCH (20), BENCH_QUIET_WAIT (300), BENCH_TARGET (the cargo target dir;
/var/cache/claude-agent-runner/bench-target-notify), BENCH_KEEP=1 (keep the temp dir and logs)
"""
import json, os, re, shutil, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from benchlib import ADMIN_ENV, Api, Machine, api_key, free_port, percentile, proc_table, stop_server, ts_seconds, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = float(os.environ.get("BENCH_RATE", "10"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "200"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "5"))
BURST = int(os.environ.get("BENCH_BURST", "1000"))
DISPATCH = int(os.environ.get("BENCH_DISPATCH", "20"))
TARGET = os.environ.get("BENCH_TARGET", "/var/cache/claude-agent-runner/bench-target-notify")
KEEP = os.environ.get("BENCH_KEEP") == "1"
RUNNER_TOKEN = "bench-notify-runner-token-0123456789"
GOTIFY_TOKEN = "AbenchNotify.0123"
TARGET_MS = 100
CLIENT_THREADS = 8
NOOP = 'print("ok", flush=True)\n'
FINISHED = {"succeeded", "failed", "timed_out", "cancelled", "lost"}
NODE = re.compile(r"Node (\S+) is unreachable")


class Receiver(ThreadingHTTPServer):
    """A fake Gotify (`POST /message`) and webhook receiver (`POST /hook`):
    notes when each request was in (wall clock) and what it said."""
    daemon_threads = True
    request_queue_size = 512  # the server sends up to a batch (100) at once

    def __init__(self, port):
        super().__init__(("127.0.0.1", port), Handler)
        self.lock = threading.Lock()
        self.gotify = []  # (at, title, message)
        self.hooks = []  # (at, Idempotency-Key, body)
        self.refused = 0
        self.next_id = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Gotify and most receivers
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at = time.time()
        srv = self.server
        if self.path == "/message":
            if self.headers.get("X-Gotify-Key") != GOTIFY_TOKEN:
                with srv.lock:
                    srv.refused += 1
                return self.answer(401, {"error": "Unauthorized", "errorCode": 401,
                                         "errorDescription": "you need to provide a valid access token or user credentials to access this api"})
            m = json.loads(raw)
            with srv.lock:
                srv.next_id += 1
                srv.gotify.append((at, m.get("title", ""), m.get("message", "")))
                mid = srv.next_id
            return self.answer(200, {"id": mid, "appid": 1, "message": m.get("message", ""), "title": m.get("title", ""),
                                     "priority": m.get("priority", 0), "extras": m.get("extras") or {},
                                     "date": datetime.now(timezone.utc).isoformat()})
        if self.path == "/hook":
            body = json.loads(raw)
            with srv.lock:
                srv.hooks.append((at, self.headers.get("Idempotency-Key"), body))
            return self.answer(200, {})
        self.answer(404, {"error": "Not Found"})


class Ours:
    """The CPU of this benchmark's own processes, in cores, by who used it:
    car-server, its PostgreSQL (the postmaster and its backends), car-runner
    with its scripts, and this process (the fake receiver, the direct
    requests, psql). A process counts for the nearest of those among its
    ancestors; what exited counts for whoever reaped it."""

    def __init__(self, roots):
        self.roots = roots  # name -> pid

    def _ticks(self):
        procs = proc_table()
        by_pid = {pid: name for name, pid in self.roots.items()}
        used = dict.fromkeys(self.roots, 0)
        for pid, (ppid, ticks) in procs.items():
            p, seen = pid, 0
            while p not in by_pid and p in procs and seen < 64:
                p, seen = procs[p][0], seen + 1
            if p in by_pid:
                used[by_pid[p]] += ticks
        return time.time(), used

    def start(self):
        self.t0 = self._ticks()

    def cores(self):
        (t0, u0), (t1, u1) = self.t0, self._ticks()
        hz = os.sysconf("SC_CLK_TCK")
        return {k: (u1[k] - u0[k]) / hz / (t1 - t0) for k in u0}


def nodes_of(title, message):
    """The nodes a Gotify message names: itself, or each line of a grouped one ("3 × node.disconnected: …")."""
    if re.match(r"^\d+ × ", title):
        return NODE.findall(message)
    return NODE.findall(title)


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "car-server", "-p", "car-runner"], cwd=ROOT, check=True,
                   env=dict(os.environ, CARGO_TARGET_DIR=TARGET, CAR_BUILD_UI="0"))
    tmp = tempfile.mkdtemp(prefix="car-bench-notify-")
    os.chmod(tmp, 0o755)  # the embedded PostgreSQL runs as the postgres user
    runner_port, api_port, recv_port = free_port(), free_port(), free_port()
    receiver = Receiver(recv_port)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()

    config = f"{tmp}/config"
    os.makedirs(f"{config}/scripts")
    open(f"{config}/nodes.yaml", "w").write(
        f"apiVersion: car/v1\nkind: Node\nmetadata: {{name: bench}}\nspec:\n  address: http://127.0.0.1:{runner_port}\n"
        f"  token: {{env: BENCH_RUNNER_TOKEN}}\n  os: linux\n")
    open(f"{config}/scripts/noop.py", "w").write(NOOP)
    open(f"{config}/agents.yaml", "w").write(
        "apiVersion: car/v1\nkind: Agent\nmetadata: {name: noop}\nspec:\n  description: benchmark script agent noop\n"
        "  script: scripts/noop.py\n  mode: read-only\n  timeout: 5m\n")
    open(f"{config}/notify.yaml", "w").write(
        f"apiVersion: car/v1\nkind: NotificationChannel\nmetadata: {{name: phone}}\nspec:\n"
        f"  gotify: {{url: 'http://127.0.0.1:{recv_port}', token: {{env: BENCH_GOTIFY_TOKEN}}}}\n---\n"
        f"apiVersion: car/v1\nkind: NotificationChannel\nmetadata: {{name: hook}}\nspec:\n"
        f"  webhook: {{url: 'http://127.0.0.1:{recv_port}/hook'}}\n---\n"
        "apiVersion: car/v1\nkind: NotificationRule\nmetadata: {name: nodes-away}\nspec:\n"
        "  events: [node.disconnected]\n  channels: [phone]\n---\n"
        "apiVersion: car/v1\nkind: NotificationRule\nmetadata: {name: nodes-away-hook}\nspec:\n"
        "  events: [node.disconnected]\n  channels: [hook]\n")

    runner_log, server_log, psql_log = f"{tmp}/runner.log", f"{tmp}/server.log", f"{tmp}/psql.log"
    runner = subprocess.Popen([os.path.join(TARGET, "release", "car-runner")],
                              env=dict(os.environ, RUNNER_TOKEN=RUNNER_TOKEN, RUNNER_PORT=str(runner_port),
                                       RUNNER_DATA_DIR=f"{tmp}/runner-data", NODE_NAME="bench", RUST_LOG="warn"),
                              stdout=subprocess.DEVNULL, stderr=open(runner_log, "w"))
    env = dict(os.environ, CONFIG_REPO=config, DATA_DIR=f"{tmp}/data", API_PORT=str(api_port), UI_PORT=str(free_port()),
               BIND_ADDRESS="127.0.0.1", BENCH_RUNNER_TOKEN=RUNNER_TOKEN, BENCH_GOTIFY_TOKEN=GOTIFY_TOKEN,
               RUST_LOG="warn", **ADMIN_ENV)
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen([os.path.join(TARGET, "release", "car-server"), "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(server_log, "w"))
    psql = None
    try:
        api = Api(api_port, api_key(f"http://127.0.0.1:{api_port}"))
        wait_for("the node connected", lambda: api.call("GET", "/api/v1/nodes/bench")[1]["connection"] == "connected",
                 120, server, server_log)
        wait_for("the agent went live", lambda: api.call("GET", "/api/v1/agents/noop")[0] == 200, 60, server, server_log)
        conn = ["-h", f"{tmp}/data/postgres/socket", "-p", "5432", "-U", "car", "-d", "car"]
        query = lambda q: subprocess.run(["psql", "-X", "-At", "-F", "\t", *conn, "-c", q], check=True,
                                         capture_output=True, text=True).stdout.split("\n")[:-1]
        # One session for the inserts: each line a statement, committed on its own.
        psql = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *conn], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=open(psql_log, "w"), text=True)

        def sql(statement):
            psql.stdin.write(statement + "\n")
            psql.stdin.flush()

        def ats(prefix):
            """node -> the event's `at` (s since the epoch) for the events of nodes named prefix…"""
            return {n: float(t) for n, t in (row.split("\t") for row in query(
                f"SELECT node, extract(epoch FROM at) FROM events WHERE node LIKE '{prefix}%'"))}

        def gotify_nodes(prefix, since=0):
            with receiver.lock:
                got = list(receiver.gotify)
            out = []  # (at, node, grouped)
            for at, title, message in got[since:]:
                names = nodes_of(title, message)
                out += [(at, n, len(names) > 1) for n in names if n.startswith(prefix)]
            return out

        def hooks_of(prefix):
            with receiver.lock:
                got = list(receiver.hooks)
            nodes = ((at, key, str((body.get("event") or {}).get("node"))) for at, key, body in got)
            return [(at, key, n) for at, key, n in nodes if n.startswith(prefix)]

        def wait_until(what, check, timeout):
            deadline = time.time() + timeout
            while not check():
                if time.time() > deadline or server.poll() is not None:
                    sys.exit(f"{what} did not happen in {timeout} s; the server's log ends:\n"
                             + open(server_log).read()[-3000:])
                time.sleep(0.02)

        machine = Machine()
        machine.postmaster = int(open(f"{tmp}/data/postgres/data/postmaster.pid").readline())
        ours = Ours({"car-server": server.pid, "PostgreSQL": machine.postmaster, "car-runner": runner.pid,
                     "this process": os.getpid()})
        use = {}

        def measure_start():
            machine.start()
            ours.start()

        def measure_end(part):
            use[part] = ours.cores()
            return machine.others()

        # a) Spaced events -> Gotify, and the same JSON posted straight to the receiver.
        gotify = Api(recv_port, headers={"X-Gotify-Key": GOTIFY_TOKEN})
        direct_sent = {}
        quiet_a = machine.wait_quiet()
        measure_start()
        period = 1 / RATE
        start = time.time() + 0.1
        for i in range(WARMUP + EVENTS):
            due = start + i * period
            time.sleep(max(0.0, due - time.time()))
            sql(f"INSERT INTO events (type, node, at) VALUES ('node.disconnected', 'bench-n{i}', clock_timestamp());")
            time.sleep(max(0.0, due + period / 2 - time.time()))
            body = {"title": f"Node direct-{i} is unreachable", "message": "Last seen .\n\n", "priority": 5,
                    "extras": {"client::display": {"contentType": "text/markdown"},
                               "client::notification": {"click": {"url": f"http://127.0.0.1/nodes/direct-{i}"}}}}
            direct_sent[f"direct-{i}"] = time.time()
            status, _ = gotify.call("POST", "/message", body)
            assert status == 200, status
        wait_until("every spaced event reached Gotify",
                   lambda: len({n for _, n, _ in gotify_nodes("bench-n")}) >= WARMUP + EVENTS, 60)
        wait_until("every spaced event reached the webhook", lambda: len(hooks_of("bench-n")) >= WARMUP + EVENTS, 60)
        others_a = measure_end("a)")
        counted = {f"bench-n{i}" for i in range(WARMUP, WARMUP + EVENTS)}
        at_of = ats("bench-n")
        arrivals = gotify_nodes("bench-n")
        first = {}
        for at, n, grouped in arrivals:
            first.setdefault(n, (at, grouped))
        lat_a = [first[n][0] - at_of[n] for n in counted]
        grouped_a = sum(1 for n in counted if first[n][1])
        dup_a = len(arrivals) - len(first)
        base_a = [at - direct_sent[n] for at, n, _ in gotify_nodes("direct-")
                  if int(n.split("-")[1]) >= WARMUP]

        # b) A burst to the webhook; the same number of POSTs straight from here.
        quiet_b = machine.wait_quiet()
        measure_start()
        gotify_before = len(receiver.gotify)
        sql(f"INSERT INTO events (type, node, at) SELECT 'node.disconnected', 'burst-' || i, clock_timestamp() "
            f"FROM generate_series(1, {BURST}) i;")
        wait_until("the burst reached the webhook", lambda: len(hooks_of("burst-")) >= BURST, 600)
        time.sleep(3)  # anything sent twice would come now
        others_b = measure_end("b)")
        burst_at = ats("burst-")
        hooks = hooks_of("burst-")
        keys = {k for _, k, _ in hooks}
        span_b = max(at for at, _, _ in hooks) - min(burst_at.values())
        per_event_b = [at - burst_at[n] for at, _, n in hooks]
        first_b = min(at for at, _, _ in hooks) - min(burst_at.values())
        burst_gotify = gotify_nodes("burst-", gotify_before)
        with receiver.lock:
            burst_messages = sum(1 for at, t, m in receiver.gotify[gotify_before:] if any(
                n.startswith("burst-") for n in nodes_of(t, m)))
        statuses = dict(row.split("\t") for row in query(
            "SELECT channel || ' ' || status, count(*) FROM deliveries WHERE node LIKE 'burst-%' GROUP BY 1"))

        quiet_bb = machine.wait_quiet()
        measure_start()
        local = threading.local()

        def post(i):
            if not hasattr(local, "api"):
                local.api = Api(recv_port)
            body = {"delivery": f"direct/{i}", "rule": "nodes-away-hook", "channel": "hook", "priority": 5,
                    "title": f"Node direct-burst-{i} is unreachable", "message": "Last seen .\n\n",
                    "url": f"http://127.0.0.1/nodes/direct-burst-{i}",
                    "event": {"id": i, "type": "node.disconnected", "at": datetime.now(timezone.utc).isoformat(),
                              "run_id": None, "agent": None, "node": f"direct-burst-{i}", "schedule": None, "data": {}}}
            status, _ = local.api.call("POST", "/hook", body, {"Idempotency-Key": f"direct/{i}"})
            assert status == 200, status

        t0 = time.time()
        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            list(pool.map(post, range(BURST)))
        direct_hooks = hooks_of("direct-burst-")
        span_bb = max(at for at, _, _ in direct_hooks) - t0
        others_bb = measure_end("b) baseline")

        # c) Run dispatch, idle and while bursts drain.
        def dispatch():
            """(POST -> seen not queued, POST -> the run's first transition past queued), the run awaited to its end."""
            t = time.time()
            status, run = api.call("POST", "/api/v1/runs", {"agent": "noop", "node": "bench"})
            assert status == 202, (status, run)
            while True:
                _, r = api.call("GET", f"/api/v1/runs/{run['id']}")
                if r["status"] != "queued":
                    seen = time.time() - t
                    break
                time.sleep(0.005)
            while r["status"] not in FINISHED:
                time.sleep(0.02)
                _, r = api.call("GET", f"/api/v1/runs/{run['id']}")
            assert r["status"] == "succeeded", r
            moved = next(ts_seconds(tr["at"]) for tr in r["transitions"] if tr["status"] != "queued") - t
            return seen, moved

        dispatch()  # warm-up
        quiet_c = machine.wait_quiet()
        measure_start()
        idle = [dispatch() for _ in range(DISPATCH)]
        others_c = measure_end("c) idle")

        quiet_cc = machine.wait_quiet()
        measure_start()
        draining, drains, ok_c = [], [], True
        while len(draining) < DISPATCH and len(drains) < 20:
            prefix = f"drain{len(drains)}-"
            sql(f"INSERT INTO events (type, node, at) SELECT 'node.disconnected', '{prefix}' || i, clock_timestamp() "
                f"FROM generate_series(1, {BURST}) i;")
            t_burst = time.time()
            while len(draining) < DISPATCH and len(hooks_of(prefix)) < BURST:
                draining.append(dispatch())
            wait_until("a burst reached the webhook", lambda: len(hooks_of(prefix)) >= BURST, 600)
            time.sleep(1)
            got = hooks_of(prefix)
            drains.append(max(at for at, _, _ in got) - t_burst)
            ok_c = ok_c and len({k for _, k, _ in got}) == BURST == len(got)
        others_cc = measure_end("c) draining")
    finally:
        if psql:
            psql.stdin.close()
            psql.wait(30)
        stop_server(server)
        runner.terminate()
        runner.wait()
        receiver.shutdown()
        if KEEP:
            print(f"kept {tmp}", file=sys.stderr, flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    ms = lambda xs, p: percentile(xs, p) * 1000
    met = lambda ok: "met" if ok else "MISSED"
    print(f"a) event -> Gotify POST received, {EVENTS} events at {RATE:g}/s, one INSERT each ({WARMUP} warm-up not counted):")
    print(f"  through car-server   p50 {ms(lat_a, 50):6.1f} ms   p99 {ms(lat_a, 99):6.1f} ms   max {ms(lat_a, 100):6.1f} ms"
          f"   {len(lat_a)}/{EVENTS} arrived, {grouped_a} grouped with another, {dup_a} twice, {receiver.refused} refused"
          f"   (target p99 < {TARGET_MS} ms: {met(ms(lat_a, 99) < TARGET_MS and len(lat_a) == EVENTS)})")
    print(f"  direct POST          p50 {ms(base_a, 50):6.1f} ms   p99 {ms(base_a, 99):6.1f} ms   max {ms(base_a, 100):6.1f} ms"
          f"   (baseline: the same JSON from this process, keep-alive, interleaved)")
    print(f"b) a burst of {BURST:,} events in one INSERT -> the webhook:")
    print(f"  through car-server   {len(hooks):,} POSTs, {len(keys):,} distinct Idempotency-Keys; first event -> last POST "
          f"{span_b * 1000:,.0f} ms (the first after {first_b * 1000:,.0f} ms), {BURST / span_b:,.0f} events/s; each event -> its POST p50 {ms(per_event_b, 50):,.0f} ms, p99 {ms(per_event_b, 99):,.0f} ms"
          f"   (target: all {BURST:,} once: "
          f"{met(len(hooks) == len(keys) == BURST)})")
    print(f"  direct POSTs         {len(direct_hooks):,} POSTs in {span_bb * 1000:,.0f} ms, {BURST / span_bb:,.0f}/s"
          f"   (baseline: this process, {CLIENT_THREADS} threads, a keep-alive connection each)")
    print(f"  the Gotify rule grouped the burst into {burst_messages} messages naming {len({n for _, n, _ in burst_gotify}):,}"
          f" nodes ({len(burst_gotify):,} mentions); deliveries: "
          + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    seen_i, moved_i = [s for s, _ in idle], [m for _, m in idle]
    seen_d, moved_d = [s for s, _ in draining], [m for _, m in draining]
    print(f"c) run dispatch, POST /api/v1/runs -> not queued (polled every 5 ms), {DISPATCH} runs idle, "
          f"{len(seen_d)} while {len(drains)} more bursts of {BURST:,} drained (each {min(drains) * 1000:,.0f}"
          f"-{max(drains) * 1000:,.0f} ms to its last POST; all once: {met(ok_c)}):")
    print(f"  while draining       p50 {ms(seen_d, 50):6.1f} ms   p99 {ms(seen_d, 99):6.1f} ms   max {ms(seen_d, 100):6.1f} ms"
          f"   (to its transition: p50 {ms(moved_d, 50):.1f} ms, p99 {ms(moved_d, 99):.1f} ms)")
    print(f"  idle                 p50 {ms(seen_i, 50):6.1f} ms   p99 {ms(seen_i, 99):6.1f} ms   max {ms(seen_i, 100):6.1f} ms"
          f"   (to its transition: p50 {ms(moved_i, 50):.1f} ms, p99 {ms(moved_i, 99):.1f} ms; baseline, same run)")
    print(f"other processes on the machine kept {others_a:.2f} cores busy on average during a), {others_b:.2f} during b)"
          f" ({others_bb:.2f} its baseline), {others_c:.2f} during c) idle, {others_cc:.2f} draining (before: {quiet_a:.2f},"
          f" {quiet_b:.2f}, {quiet_bb:.2f}, {quiet_c:.2f}, {quiet_cc:.2f}; {os.cpu_count()} cores)")
    print("this benchmark's processes, cores busy on average: " + "; ".join(
        f"{part} " + ", ".join(f"{who} {c:.2f}" for who, c in u.items()) for part, u in use.items()))


if __name__ == "__main__":
    main()
