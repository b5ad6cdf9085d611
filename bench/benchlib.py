"""What the benchmarks share: a free local port, the server's first admin
and an API key for it, how busy the rest of the machine is (the
benchmarks wait for it to be quiet before measuring and print how busy it
was), and a server on a 1,000-object config repository to push to."""
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

# How long a benchmark waits for the machine to be quiet (BENCH_QUIET_WAIT seconds).
QUIET_WAIT = float(os.environ.get("BENCH_QUIET_WAIT", "300"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# The first admin of a benchmark's server (ADMIN_USERNAME, ADMIN_PASSWORD).
ADMIN_ENV = {"ADMIN_USERNAME": "bench-admin", "ADMIN_PASSWORD": "bench-admin-password"}


def api_key(base, timeout=120):
    """An admin API key from the server at `base`: log in as the admin, ask
    for a key. Waits for the server to come up."""
    body = json.dumps({"username": ADMIN_ENV["ADMIN_USERNAME"], "password": ADMIN_ENV["ADMIN_PASSWORD"]}).encode()
    deadline = time.time() + timeout
    while True:
        try:
            req = urllib.request.Request(base + "/api/v1/auth/login", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=5) as r:
                cookie = r.headers["Set-Cookie"].split(";")[0]
            break
        except (urllib.error.URLError, OSError):
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    req = urllib.request.Request(base + "/api/v1/api-keys", method="POST",
                                 data=json.dumps({"name": "bench", "role": "admin"}).encode(),
                                 headers={"Content-Type": "application/json", "Cookie": cookie})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)["key"]


class Machine:
    """CPU that processes other than this benchmark's use (the machine may be
    shared): `ours` are this process's descendants and the PostgreSQL
    cluster's (`postmaster`). Measured from /proc in cores (1.0 = one core busy)."""

    def __init__(self):
        self.postmaster = None
        self.ncpu = os.cpu_count()

    def _sample(self):
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        busy, total = sum(v) - v[3] - v[4], sum(v[:8])
        procs = proc_table()
        roots = {os.getpid()} | ({self.postmaster} if self.postmaster else set())
        ours, grew = set(roots), True
        while grew:
            more = {p for p, (pp, _) in procs.items() if pp in ours and p not in ours}
            ours |= more
            grew = bool(more)
        return busy, total, sum(procs[p][1] for p in ours if p in procs)

    def start(self):
        self.t0 = self._sample()

    def others(self):
        """Cores that other processes kept busy since start()."""
        b0, t0, o0 = self.t0
        b1, t1, o1 = self._sample()
        span = (t1 - t0) / self.ncpu
        return max(0.0, (b1 - b0) - (o1 - o0)) / span if span > 0 else 0.0

    def wait_quiet(self, limit=0.2, timeout=QUIET_WAIT):
        """Waits until other processes use under `limit` cores for 2 s (at most `timeout` s)."""
        deadline = time.time() + timeout
        while True:
            self.start()
            time.sleep(2)
            busy = self.others()
            if busy < limit or time.time() > deadline:
                return busy


def agent_doc(name, script):
    return {"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": name},
            "spec": {"description": f"benchmark script agent {name}", "script": script, "mode": "read-only",
                     "timeout": "5m"}}


def proc_table():
    """Every process now: pid -> (parent pid, CPU ticks used, user and system, its own and its reaped children's)."""
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            procs[int(d)] = (int(st[1]), sum(int(x) for x in st[11:15]))
    return procs


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def ts_seconds(ts):
    """Seconds since the epoch of an RFC 3339 `ts` in UTC (`Z` or `+00:00`; nanoseconds kept as far as a float holds them)."""
    base, _, frac = ts.rstrip("Z").replace("+00:00", "").partition(".")
    whole = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return whole + (float("0." + frac) if frac else 0.0)


class Api:
    """Keep-alive HTTP/1.1 JSON calls to 127.0.0.1:`port`, with a bearer
    `token` and extra `headers` on each; one reconnect when the connection
    was dropped."""

    def __init__(self, port, token=None, headers=None):
        self.port, self.token, self.conn, self.headers = port, token, None, headers or {}

    def call(self, method, path, body=None, headers=None):
        h = {"Content-Type": "application/json", **self.headers, **(headers or {})}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.conn.connect()
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.conn.request(method, path, None if body is None else json.dumps(body), h)
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, (json.loads(data) if data else None)
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise


def wait_for(what, check, timeout, server, log):
    """Waits until `check()` is true (errors count as not yet); exits with the
    end of the server's `log` when `timeout` s pass or the `server` process ends."""
    deadline = time.time() + timeout
    while True:
        try:
            if check():
                return
        except (OSError, http.client.HTTPException, KeyError, TypeError, ValueError):
            pass  # not up yet
        if time.time() > deadline or server.poll() is not None:
            sys.exit(f"{what} did not happen in {timeout} s; the server's log ends:\n" + open(log).read()[-3000:])
        time.sleep(0.05)


def stop_server(proc):
    """Stops a car-server as systemd would: SIGTERM, then SIGKILL after 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def sh(cmd, cwd=None):
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def git(args, cwd):
    return sh(["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.org"] + args, cwd)


def bench_agent(i, rev=0):
    """The YAML of generated agent `i` at revision `rev` (its description says which)."""
    return (f"apiVersion: car/v1\nkind: Agent\nmetadata:\n  name: bench-{i:04}\nspec:\n"
            f"  description: benchmark agent {i} revision {rev}\n  prompt: Check disk usage and report.\n"
            f"  tools:\n    allow: [Read, \"Bash(df -h *)\"]\n  timeout: 5m\n")


class ConfigServer:
    """`car-server serve` (release build, embedded PostgreSQL) on a bare git
    repository of `objects` objects: the example config plus generated
    agents (`bench/agent-NNNN.yaml`), with a work tree `work` to push from.
    `webhook_secret` signs push webhooks."""

    def __init__(self, prefix, objects=1000, webhook_secret="bench-secret"):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(root, "target")
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "car-server"], cwd=root, check=True)
        self.car = os.path.join(target, "release", "car-server")
        self.secret = webhook_secret
        self.tmp = tmp = tempfile.mkdtemp(prefix=prefix)
        os.chmod(tmp, 0o755)  # the embedded PostgreSQL runs as the postgres user
        self.work, self.bare = f"{tmp}/work", f"{tmp}/config.git"
        shutil.copytree(os.path.join(root, "example-config-repo"), self.work)
        existing = sum(open(os.path.join(d, f)).read().count("\nkind: ")
                       for d, _, fs in os.walk(self.work) for f in fs if f.endswith(".yaml"))
        self.generated = objects - existing
        os.makedirs(f"{self.work}/bench")
        for i in range(self.generated):
            open(f"{self.work}/bench/agent-{i:04}.yaml", "w").write(bench_agent(i))
        git(["init", "-q", "-b", "main"], self.work)
        git(["add", "-A"], self.work)
        git(["commit", "-q", "-m", f"{objects} objects"], self.work)
        git(["clone", "-q", "--bare", self.work, self.bare], tmp)
        git(["remote", "add", "origin", self.bare], self.work)
        self.port = free_port()
        env = dict(os.environ, CONFIG_REPO="file://" + self.bare, CONFIG_POLL_INTERVAL="1h",
                   GIT_WEBHOOK_SECRET=webhook_secret, API_PORT=str(self.port), UI_PORT=str(free_port()),
                   DATA_DIR=f"{tmp}/data", RUST_LOG="warn", **ADMIN_ENV)
        env.pop("DATABASE_URL", None)
        self.proc = subprocess.Popen([self.car, "serve"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(f"{tmp}/server.log", "w"))
        self.base = f"http://127.0.0.1:{self.port}"
        self.key = api_key(self.base)
        self.api = Api(self.port, self.key)
        head = git(["rev-parse", "HEAD"], self.work)
        if not self.wait_applied(head, 120):
            self.stop()
            sys.exit("the server did not apply the initial revision: " + open(f"{tmp}/server.log").read()[-600:])

    def applied(self, sha):
        status, s = self.api.call("GET", "/api/v1/sync")
        return status == 200 and s["last_applied"]["revision"] == sha

    def wait_applied(self, sha, timeout=10):
        deadline = time.perf_counter() + timeout
        while not self.applied(sha):
            if time.perf_counter() > deadline or self.proc.poll() is not None:
                return False
            time.sleep(0.002)
        return True

    def push(self, path, text, message):
        """Commits `text` as `path` and pushes it; returns the commit."""
        open(f"{self.work}/{path}", "w").write(text)
        git(["commit", "-q", "-am", message], self.work)
        git(["push", "-q", "origin", "main"], self.work)
        return git(["rev-parse", "HEAD"], self.work)

    def webhook(self, sha):
        """A signed GitHub-style push webhook for `sha`."""
        body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
        sig = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        req = urllib.request.Request(self.base + "/api/v1/webhooks/git", data=body, method="POST",
                                     headers={"X-Hub-Signature-256": sig, "X-GitHub-Event": "push",
                                              "Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=5).read()

    def stop(self):
        stop_server(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)
