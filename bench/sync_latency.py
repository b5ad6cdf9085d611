#!/usr/bin/env python3
"""Benchmark: push-to-applied latency of `car-server serve` for a repo of
1,000 objects, and the server's idle memory.

For each of 50 commits (one agent changed each time): push to a bare repo,
POST a signed GitHub-style webhook, and poll GET /api/v1/sync until the
commit is the last applied revision. Reported as p50/p99 next to the floor
measured in the same run for the same commits: a plain `git fetch` of the
commit into a mirror plus `car-server validate` of the changed file.
Then the server's resident memory after it has idled (PostgreSQL excluded).
Targets: p99 < 300 ms, idle RSS < 40 MiB.

Usage: python3 bench/sync_latency.py   (builds target/release/car-server)
"""
import hashlib, hmac, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request
from benchlib import ADMIN_ENV, api_key, free_port, percentile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OBJECTS, SECRET = 1000, "bench-secret"
COMMITS = int(os.environ.get("BENCH_COMMITS", "50"))
IDLE = float(os.environ.get("BENCH_IDLE", "15"))  # seconds the server idles before its memory is read


def sh(cmd, cwd=None):
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def git(args, cwd):
    return sh(["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.org"] + args, cwd)


def agent(i, rev=0):
    return (f"apiVersion: car/v1\nkind: Agent\nmetadata:\n  name: bench-{i:04}\nspec:\n"
            f"  description: benchmark agent {i} revision {rev}\n  prompt: Check disk usage and report.\n"
            f"  tools:\n    allow: [Read, \"Bash(df -h *)\"]\n  timeout: 5m\n")


def main():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "car-server"], cwd=ROOT, check=True)
    car = os.path.join(target, "release", "car-server")
    tmp = tempfile.mkdtemp(prefix="car-bench-sync-")
    os.chmod(tmp, 0o755)  # the embedded PostgreSQL runs as the postgres user
    work, bare, mirror = f"{tmp}/work", f"{tmp}/config.git", f"{tmp}/mirror.git"
    shutil.copytree(os.path.join(ROOT, "example-config-repo"), work)
    existing = sum(open(os.path.join(d, f)).read().count("\nkind: ") for d, _, fs in os.walk(work) for f in fs if f.endswith(".yaml"))
    os.makedirs(f"{work}/bench")
    for i in range(OBJECTS - existing):
        open(f"{work}/bench/agent-{i:04}.yaml", "w").write(agent(i))
    git(["init", "-q", "-b", "main"], work)
    git(["add", "-A"], work)
    git(["commit", "-q", "-m", "1,000 objects"], work)
    git(["clone", "-q", "--bare", work, bare], tmp)
    git(["remote", "add", "origin", bare], work)
    git(["clone", "-q", "--mirror", bare, mirror], tmp)

    api = free_port()
    env = dict(os.environ, CONFIG_REPO="file://" + bare, CONFIG_POLL_INTERVAL="1h", GIT_WEBHOOK_SECRET=SECRET,
               API_PORT=str(api), UI_PORT=str(free_port()), DATA_DIR=f"{tmp}/data", RUST_LOG="warn", **ADMIN_ENV)
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen([car, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/server.log", "w"))
    base = f"http://127.0.0.1:{api}"
    key = api_key(base)

    def sync():
        req = urllib.request.Request(base + "/api/v1/sync", headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.load(r)

    def applied(sha):
        try:
            return sync()["last_applied"]["revision"] == sha
        except OSError:
            return False

    try:
        head = git(["rev-parse", "HEAD"], work)
        deadline = time.time() + 120
        while not applied(head):
            if time.time() > deadline or server.poll() is not None:
                sys.exit("the server did not apply the initial revision: " + open(f"{tmp}/server.log").read()[-600:])
            time.sleep(0.1)
        ours, floor = [], []
        for n in range(1, COMMITS + 1):
            i = n % (OBJECTS - existing)
            path = f"bench/agent-{i:04}.yaml"
            open(f"{work}/{path}", "w").write(agent(i, n))
            git(["commit", "-q", "-am", f"change {i}"], work)
            git(["push", "-q", "origin", "main"], work)
            sha = git(["rev-parse", "HEAD"], work)
            body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
            sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            req = urllib.request.Request(base + "/api/v1/webhooks/git", data=body, method="POST",
                                         headers={"X-Hub-Signature-256": sig, "X-GitHub-Event": "push",
                                                  "Content-Type": "application/json"})
            t = time.perf_counter()
            urllib.request.urlopen(req, timeout=5).read()
            while not applied(sha):
                if time.perf_counter() - t > 10:
                    sys.exit(f"commit {sha} not applied in 10 s")
                time.sleep(0.002)
            ours.append(time.perf_counter() - t)
            # The floor: fetch the same commit and parse the changed file.
            one = tempfile.mkdtemp(dir=tmp)
            t = time.perf_counter()
            git(["fetch", "-q", "origin", "+refs/heads/main:refs/heads/main"], mirror)
            open(f"{one}/agent.yaml", "w").write(git(["show", f"{sha}:{path}"], mirror) + "\n")
            subprocess.run([car, "validate", one], check=True, capture_output=True)
            floor.append(time.perf_counter() - t)
        time.sleep(IDLE)
        rss = int(next(l for l in open(f"/proc/{server.pid}/status") if l.startswith("VmRSS")).split()[1]) / 1024
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    ms = lambda xs, p: percentile(xs, p) * 1000
    print(f"repo: {OBJECTS} objects; {COMMITS} commits, one object changed in each")
    print(f"webhook -> applied:   p50 {ms(ours, 50):6.1f} ms   p99 {ms(ours, 99):6.1f} ms   (target p99 < 300 ms: {'met' if ms(ours, 99) < 300 else 'MISSED'})")
    print(f"floor (fetch+parse):  p50 {ms(floor, 50):6.1f} ms   p99 {ms(floor, 99):6.1f} ms")
    print(f"idle RSS of car-server with the repo loaded: {rss:.1f} MiB (target < 40 MiB: {'met' if rss < 40 else 'MISSED'})")


if __name__ == "__main__":
    main()
