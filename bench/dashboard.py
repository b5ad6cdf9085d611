#!/usr/bin/env python3
"""Benchmark: the dashboard in a real browser (Debian's chromium, driven by
playwright-core from ui/e2e/bench.mjs) against release car-server and
car-runner, with script agents (no model).

a) JavaScript of the overview's first load, gzipped (level 9, what the
   server's bytes compress to). Target: under 200 KB.
b) Line latency at BENCH_RATE (1,000) lines/s for BENCH_SECONDS (5) s: a
   script agent prints lines carrying the wall-clock time they were printed;
   measured is the time until each line is an element of the run view's DOM
   (a MutationObserver in the page). Baseline, in the same run and for the
   same lines: a plain WebSocket client on the same stream in another tab of
   the same browser, the time until each line's message arrives. Target:
   p99 under 100 ms. Also printed: how many of the lines the view showed.
c) A 100,000-line run (BENCH_BIG lines): the run view's first paint (the
   first log line on screen) after navigation starts, the time until all its
   events are in, and the long tasks (over 50 ms) while scrolling it from the
   end to the start and back in 40 wheel steps and two jumps. Baseline in
   the same run: a plain WebSocket client receiving the same replay. Target:
   first paint under 1 s, no long task over 50 ms while scrolling.

Each part waits (up to BENCH_QUIET_WAIT s) for the machine to be quiet and
prints the CPU other processes used meanwhile.

Usage: python3 bench/dashboard.py   (builds release car-server, with the dashboard, and car-runner)
Environment: BENCH_RATE (1000), BENCH_SECONDS (5), BENCH_BIG (100000), BENCH_QUIET_WAIT (300),
CHROMIUM (/usr/bin/chromium), CARGO_TARGET_DIR, BENCH_PROFILE=1 (where the run view's time goes while
it takes in the big run)
"""
import gzip, json, os, shutil, subprocess, sys, tempfile, time, urllib.request
from benchlib import ADMIN_ENV, Machine, api_key, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = int(os.environ.get("BENCH_RATE", "1000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
BIG = int(os.environ.get("BENCH_BIG", "100000"))
TOKEN = "bench-dashboard-runner-token-0123"

# Waits for the viewer to attach, then prints paced lines "STAMP <ms since epoch> <n>".
PACED = f"""
import sys, time
time.sleep(4)
rate, lines = {RATE}, {int(RATE * SECONDS)}
start = time.time()
for i in range(lines):
    due = start + i / rate
    now = time.time()
    if due > now:
        time.sleep(due - now)
    sys.stdout.write("STAMP %d %d\\n" % (time.time() * 1000, i))
    sys.stdout.flush()
"""
BIG_SCRIPT = f"""
import sys
out = sys.stdout
for i in range({BIG}):
    out.write("line %d of a long run: the quick brown fox jumps over the lazy dog\\n" % i)
"""


def main():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "car-server", "-p", "car-runner"], cwd=ROOT, check=True)
    subprocess.run(["npm", "ci", "--no-fund", "--no-audit", "--loglevel=error"], cwd=f"{ROOT}/ui", check=True)
    tmp = tempfile.mkdtemp(prefix="car-bench-ui-")
    os.chmod(tmp, 0o755)  # the embedded PostgreSQL runs as the postgres user
    runner_port, api_port, ui_port = free_port(), free_port(), free_port()
    config = f"{tmp}/config"
    os.makedirs(f"{config}/scripts")
    open(f"{config}/node.yaml", "w").write(
        f"apiVersion: car/v1\nkind: Node\nmetadata: {{name: bench}}\nspec:\n  address: http://127.0.0.1:{runner_port}\n"
        f"  token: {{env: BENCH_RUNNER_TOKEN}}\n  os: linux\n")
    docs = []
    for name, source in (("paced", PACED), ("big", BIG_SCRIPT)):
        open(f"{config}/scripts/{name}.py", "w").write(source)
        docs.append(f"apiVersion: car/v1\nkind: Agent\nmetadata: {{name: {name}}}\nspec:\n"
                    f"  description: dashboard benchmark agent {name}\n  script: scripts/{name}.py\n"
                    f"  mode: read-only\n  timeout: 10m\n")
    open(f"{config}/agents.yaml", "w").write("---\n".join(docs))
    runner = subprocess.Popen([os.path.join(target, "release", "car-runner")],
                              env=dict(os.environ, RUNNER_TOKEN=TOKEN, RUNNER_PORT=str(runner_port),
                                       RUNNER_DATA_DIR=f"{tmp}/runner-data", NODE_NAME="bench", RUST_LOG="warn"),
                              stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/runner.log", "w"))
    env = dict(os.environ, CONFIG_REPO=config, DATA_DIR=f"{tmp}/data", API_PORT=str(api_port), UI_PORT=str(ui_port),
               BIND_ADDRESS="127.0.0.1", BENCH_RUNNER_TOKEN=TOKEN, RUST_LOG="warn", **ADMIN_ENV)
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen([os.path.join(target, "release", "car-server"), "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/server.log", "w"))
    ui = f"http://127.0.0.1:{ui_port}"
    try:
        key = api_key(f"http://127.0.0.1:{api_port}")
        deadline = time.time() + 120
        while True:
            req = urllib.request.Request(f"{ui}/api/v1/nodes/bench", headers={"Authorization": f"Bearer {key}"})
            try:
                if json.load(urllib.request.urlopen(req, timeout=5))["connection"] == "connected":
                    break
            except OSError:
                pass
            if time.time() > deadline:
                sys.exit("the node did not connect; the server's log ends:\n" + open(f"{tmp}/server.log").read()[-2000:])
            time.sleep(0.3)
        machine = Machine()
        machine.postmaster = int(open(f"{tmp}/data/postgres/data/postmaster.pid").readline())
        quiet = machine.wait_quiet()
        machine.start()
        out = subprocess.run(["node", "e2e/bench.mjs"], cwd=f"{ROOT}/ui", capture_output=True, text=True, timeout=900,
                             env=dict(os.environ, CAR_UI=ui, CAR_ADMIN=f"{ADMIN_ENV['ADMIN_USERNAME']}:{ADMIN_ENV['ADMIN_PASSWORD']}"))
        others = machine.others()
        if os.environ.get("BENCH_PROFILE") == "1":
            print(out.stderr, file=sys.stderr)
        if out.returncode != 0:
            sys.exit(f"the browser part failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        js = sum(len(gzip.compress(urllib.request.urlopen(u, timeout=10).read(), 9)) for u in set(r["scripts"]))
    finally:
        for p in (server, runner):
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    pct = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")
    dom, ws = r["dom_ms"], r["ws_ms"]
    print(f"a) overview JavaScript, gzipped: {js / 1024:.1f} KB in {len(set(r['scripts']))} files (target < 200 KB)")
    print(f"b) {len(ws)} lines at {RATE}/s: printed -> in the run view's DOM p50 {pct(dom, 50):.1f} ms, p99 {pct(dom, 99):.1f} ms, "
          f"max {max(dom):.1f} ms ({len(dom)} of {len(ws)} lines shown); baseline printed -> a plain WebSocket client "
          f"p50 {pct(ws, 50):.1f} ms, p99 {pct(ws, 99):.1f} ms (target p99 < 100 ms)")
    print(f"c) {BIG} lines: first paint {r['first_paint_ms']:.0f} ms after navigation (target < 1000 ms), all events in "
          f"{r['all_in_ms']:.0f} ms; baseline: a plain WebSocket client received the replay in {r['ws_replay_ms']:.0f} ms; "
          f"scrolling: {len(r['long_tasks'])} long tasks over 50 ms (longest {max(r['long_tasks'] or [0]):.0f} ms; target none)")
    print(f"other processes on the machine kept {others:.2f} cores busy on average while measuring "
          f"(before: {quiet:.2f}; {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
