#!/usr/bin/env python3
"""Benchmark: run history at scale — `car-server`'s run list and agent
statistics with 1,000,000 runs in PostgreSQL.

The server starts with its own PostgreSQL (no DATABASE_URL) and a config of
10 agents (the example repo's seven, with their real documents and script,
plus three renamed copies) and 5 nodes. BENCH_ROWS (1,000,000) runs are then
written straight into the `runs` table with one `INSERT ... SELECT` over
`generate_series` through psql: created over the last 90 days in time order
(as a live server writes them), agents and nodes skewed (the busiest agent
has 25% of the runs, the busiest node 30%), 86% succeeded, 8% failed and the
other finished statuses, a handful still open (held by another replica, so
this server's dispatcher leaves them alone), each referring to its agent's
full document (and script) stored once in `run_inputs` as the server stores
it, and token counts and cost of a real model run (none for the script
agent). Then VACUUM (ANALYZE), the state autovacuum keeps a table in.

Size: the runs table with its indexes and TOAST, per run, next to what the
agent documents and scripts would add to each row if every run kept its own
copy (the layout before `run_inputs`, measured in the same database as
`pg_column_size` of each run's inputs). Target: under 1 KB per run.

Measured, p50/p99 over BENCH_REQUESTS (200) rounds, the request kinds
interleaved round-robin as a dashboard mixes them (a warm-up round first):
`GET /api/v1/runs?limit=50`, with `agent=`, with `node=`, with
`status=failed`, with `agent=&status=failed`, its second page
(`before=<next>`), and `GET /api/v1/agents/{name}` (30-day stats and last run
per node), and `GET /api/v1/runs/{id}` (the run view: the run, its
transitions, attempts and approvals). Agent and node: the busiest ones (the
largest statistics).
Target: p99 < 50 ms for each.

Baseline, in the same run and order: the same SQL as the server's
(`reconciler/src/runs/repo.rs`: `RunRepo::runs`, `agent_stats`, `last_runs`,
`run`, `transitions`, `attempts`, `approvals`, copied below — keep them in step) as prepared statements with the same
parameters in one psql session, timed by psql (`\\timing`: planning,
execution and the rows over the socket). That is the database's share of
each request, so the gap to it is what the server adds (HTTP, JSON), and a
baseline near the target says the query, not the server, is the problem.
(`GET /healthz` would only give the HTTP floor, which says nothing about the
queries.) For every request kind that misses the target, the plan PostgreSQL
uses in that session is printed (EXPLAIN (ANALYZE, BUFFERS)); BENCH_EXPLAIN=1
prints them all. The measurement waits (up to BENCH_QUIET_WAIT s) until
other processes on the machine are nearly idle, and prints the CPU they used
meanwhile. It takes about 15 minutes on 2 cores, most of it the slow
requests' 400 repetitions.

Usage: python3 bench/runs_history.py   (builds target/release/car-server)
Environment: BENCH_ROWS (1000000), BENCH_REQUESTS (200), BENCH_EXPLAIN=1, BENCH_QUIET_WAIT (300),
BENCH_KEEP=1 (keep the temp dir and its database), CARGO_TARGET_DIR
"""
import http.client, json, os, re, shutil, socket, subprocess, sys, tempfile, time, urllib.parse
from benchlib import ADMIN_ENV, Machine, api_key, free_port, percentile, stop_server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
EXPLAIN = os.environ.get("BENCH_EXPLAIN") == "1"
TARGET_MS = 50

# Agent: share of the runs. The example repo's agents, then copies under new names.
AGENTS = [("zfs-health", .25), ("service-monitor", .20), ("docker-manager", .15), ("disk-space", .10),
          ("backup-verifier", .08), ("cert-expiry", .07), ("security-scanner", .05), ("log-watcher", .04),
          ("update-checker", .03), ("smart-monitor", .03)]
COPIES = {"log-watcher": "service-monitor", "update-checker": "security-scanner", "smart-monitor": "disk-space"}
SCRIPT_AGENT, SCRIPT = "cert-expiry", "scripts/cert_expiry.py"
# Node: share of the runs, os, tags.
NODES = [("tower", .30, "unraid", ["nas", "docker"]), ("truenas", .25, "truenas", ["nas", "zfs"]),
         ("homeserver", .20, "ubuntu", ["docker", "services"]), ("pve", .15, "proxmox", ["hypervisor"]),
         ("pi", .10, "debian", ["edge"])]
AGENT, NODE = AGENTS[0][0], NODES[0][0]

# The server's queries (reconciler/src/runs/repo.rs).
RUN = ("id, agent, node, status, trigger, started_by, slot, attempt, first_run_id, revision, inputs, needs_model, "
       "context, created_at, not_before, after_previous, dispatched_at, started_at, finished_at, last_seq, summary, "
       "report, error, input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, cost_usd, turns")
SQL_RUN = f"SELECT {RUN} FROM runs WHERE id = $1"
SQL_TRANSITIONS = "SELECT at, status, reason FROM run_transitions WHERE run_id = $1 ORDER BY id"
SQL_ATTEMPTS = f"SELECT {RUN} FROM runs WHERE id = $1 OR (first_run_id = $1 AND attempt > 1) ORDER BY attempt"
SQL_APPROVALS = ("SELECT id, run_id, request_id, agent, node, tool, input, reason, status, requested_at, decided_at, "
                 "decided_by, comment FROM approvals WHERE ($1::text IS NULL OR status = $1) "
                 "AND ($2::text IS NULL OR run_id = $2) ORDER BY requested_at DESC LIMIT 500")
SQL_RUNS = (f"SELECT {RUN} FROM runs WHERE ($1::text IS NULL OR agent = $1) AND ($2::text IS NULL OR node = $2) "
            "AND ($3::text IS NULL OR status = $3) "
            "AND ($4::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM runs WHERE id = $4)) "
            "ORDER BY created_at DESC, id DESC LIMIT $5")
SQL_STATS = ("WITH r AS (SELECT status, cost_usd, created_at, "
             "date_part('epoch', finished_at - started_at) * 1000 AS ms "
             "FROM runs WHERE agent = $1 AND created_at > now() - interval '30 days') "
             "SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'succeeded') AS succeeded, "
             "count(*) FILTER (WHERE NOT run_is_open(status)) AS finished, "
             "(count(*) FILTER (WHERE status = 'succeeded'))::float8 "
             "/ NULLIF(count(*) FILTER (WHERE NOT run_is_open(status)), 0) "
             "AS success_rate, "
             "avg(ms)::float8 AS mean_duration_ms, "
             "(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms))::float8 AS p95_duration_ms, "
             "COALESCE(sum(cost_usd) FILTER (WHERE created_at > now() - interval '7 days'), 0) AS cost_7d_usd, "
             "COALESCE(sum(cost_usd), 0) AS cost_30d_usd FROM r")
SQL_LAST = ("WITH RECURSIVE nodes AS ( "
            "(SELECT node FROM runs WHERE agent = $1 ORDER BY node LIMIT 1) "
            "UNION ALL "
            "SELECT (SELECT r.node FROM runs r WHERE r.agent = $1 AND r.node > n.node ORDER BY r.node LIMIT 1) "
            "FROM nodes n WHERE n.node IS NOT NULL) "
            "SELECT l.node, l.id, l.status, l.created_at, l.finished_at FROM nodes n "
            "CROSS JOIN LATERAL (SELECT node, id, status, created_at, finished_at FROM runs "
            "WHERE agent = $1 AND node = n.node ORDER BY created_at DESC LIMIT 1) l "
            "WHERE n.node IS NOT NULL ORDER BY l.node")


def pick(col, shares):
    """A CASE choosing among `shares` [(value, share)] by the uniform random column `col`."""
    out, acc = [], 0.0
    for value, share in shares[:-1]:
        acc += share
        out.append(f"WHEN {col} < {acc:.4f} THEN '{value}'")
    return f"CASE {' '.join(out)} ELSE '{shares[-1][0]}' END"


def insert_sql(n):
    # The newest ten runs are still open; the rest finished.
    open_ = "ARRAY['queued','queued','dispatched','running','running','running','running','awaiting_approval','running','queued']"
    status = (f"CASE WHEN i > {n} - 10 THEN ({open_})[i - ({n} - 10)] "
              "WHEN rs < 0.86 THEN 'succeeded' WHEN rs < 0.94 THEN 'failed' WHEN rs < 0.96 THEN 'timed_out' "
              "WHEN rs < 0.98 THEN 'cancelled' ELSE 'lost' END")
    # A retry keeps its first attempt's trigger: 2% of the runs are second attempts.
    trigger = "CASE WHEN rt < 0.85 THEN 'schedule' WHEN rt < 0.95 THEN 'manual' ELSE 'trigger' END"
    # Each agent's document (and script) once, addressed as the migration that made run_inputs does.
    return f"""
WITH src AS (SELECT source FROM scripts WHERE path LIKE '%/cert_expiry.py'),
i AS (
  INSERT INTO run_inputs (hash, agent, files)
  SELECT sha256(convert_to(document::text || f::text, 'UTF8')), document, f
  FROM (SELECT document, CASE WHEN name = '{SCRIPT_AGENT}' THEN jsonb_build_object('{SCRIPT}', (SELECT source FROM src))
                              ELSE '{{}}' END AS f, name
        FROM objects WHERE kind = 'Agent') a
  RETURNING hash, agent -> 'metadata' ->> 'name' AS name, agent -> 'spec' ? 'prompt' AS model),
g AS (
  SELECT i, random() AS ra, random() AS rn, random() AS rs, random() AS rt, random() AS rd, random() AS rk, random() AS ru,
         now() - interval '90 days' + (i::float8 / {n}) * interval '90 days' AS created
  FROM generate_series(1, {n}) AS i),
s AS (
  SELECT g.*, {pick('ra', [(a, s) for a, s in AGENTS])} AS agent, {pick('rn', [(x[0], x[1]) for x in NODES])} AS node,
         {status} AS status, {trigger} AS trig,
         'run_' || to_char(created AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS') || '_' || substr(md5(i::text), 1, 16) AS id
  FROM g),
t AS (
  SELECT s.*, i.hash, i.model, o.revision,
         CASE trig WHEN 'manual' THEN 'api' WHEN 'trigger' THEN 'alertmanager' ELSE agent || '-schedule' END AS started_by,
         CASE WHEN status IN ('queued', 'dispatched') THEN NULL
              WHEN agent = '{SCRIPT_AGENT}' THEN 1 + 29 * rd WHEN status = 'timed_out' THEN 900
              ELSE 20 + 580 * rd * rd END AS seconds,
         status NOT IN ('queued', 'dispatched', 'running', 'awaiting_approval') AS finished,
         status IN ('queued', 'dispatched') OR NOT i.model AS no_model
  FROM s JOIN objects o ON o.kind = 'Agent' AND o.name = s.agent JOIN i ON i.name = s.agent)
INSERT INTO runs (id, agent, node, status, trigger, started_by, slot, attempt, first_run_id, revision, inputs,
                  needs_model, context, created_at, not_before, dispatched_at, started_at, finished_at, follower, lease_until,
                  last_seq, summary, report, error, input_tokens, output_tokens, cache_creation_input_tokens,
                  cache_read_input_tokens, cost_usd, turns)
SELECT id, agent, node, status, trig, started_by, CASE WHEN trig = 'schedule' THEN created END,
       CASE WHEN rk > 0.98 THEN 2 ELSE 1 END, CASE WHEN rk > 0.98 THEN id END, revision, hash, model,
       CASE WHEN trig = 'trigger' THEN jsonb_build_object('payload', jsonb_build_object(
         'status', 'firing', 'alerts', jsonb_build_array(jsonb_build_object('labels', jsonb_build_object(
           'alertname', 'HostDiskFull', 'instance', node || ':9100', 'severity', 'warning')))))
            ELSE '{{}}' END,
       created,
       CASE WHEN status = 'queued' THEN now() + interval '1 day' END,
       CASE WHEN status <> 'queued' THEN created + interval '15 milliseconds' END,
       CASE WHEN seconds IS NOT NULL THEN created + interval '60 milliseconds' END,
       CASE WHEN finished THEN created + interval '60 milliseconds' + seconds * interval '1 second' END,
       CASE WHEN NOT finished AND status <> 'queued' THEN 'car-server-2' END,
       CASE WHEN NOT finished AND status <> 'queued' THEN now() + interval '1 day' END,
       CASE WHEN status = 'queued' THEN 0 ELSE 5 + floor(rk * 400)::bigint END,
       CASE WHEN status = 'succeeded' THEN 'All checks passed on ' || node || ': ' || (1 + floor(rk * 20))::int || ' items healthy, nothing to do' END,
       CASE WHEN status = 'succeeded' THEN jsonb_build_object('ok', true, 'checked', (1 + floor(rk * 20))::int,
                                                              'warnings', jsonb_build_array()) END,
       CASE status
         WHEN 'failed' THEN jsonb_build_object('kind', 'reported', 'message', 'the agent reported a failure: 1 of 12 checks failed', 'hint', 'see the run''s log')
         WHEN 'timed_out' THEN jsonb_build_object('kind', 'timed_out', 'message', 'the run took longer than its timeout of 15m', 'hint', 'raise the agent''s timeout or narrow its task')
         WHEN 'cancelled' THEN jsonb_build_object('kind', 'cancelled', 'message', 'the run was cancelled', 'hint', 'start it again when needed')
         WHEN 'lost' THEN jsonb_build_object('kind', 'lost', 'message', 'node ' || node || ' was away for 300s while the run went', 'hint', 'check the node and its runner, then start the run again')
       END,
       CASE WHEN no_model THEN 0 ELSE 2000 + floor(ru * 30000)::bigint END,
       CASE WHEN no_model THEN 0 ELSE 200 + floor(rk * 3800)::bigint END,
       CASE WHEN no_model THEN 0 ELSE floor(rd * 10000)::bigint END,
       CASE WHEN no_model THEN 0 ELSE 10000 + floor(ru * rk * 190000)::bigint END,
       CASE WHEN no_model THEN 0 ELSE (2000 + floor(ru * 30000)) * 3e-6 + (200 + floor(rk * 3800)) * 15e-6
                                     + floor(rd * 10000) * 3.75e-6 + (10000 + floor(ru * rk * 190000)) * 0.3e-6 END,
       CASE WHEN no_model THEN 0 ELSE 1 + floor(rk * 12)::int END
FROM t;
"""


def lit(v):
    """A SQL literal for a psql EXECUTE argument."""
    return "NULL" if v is None else str(v) if isinstance(v, int) else "'" + v.replace("'", "''") + "'"


def main():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "car-server"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="car-bench-history-")
    os.chmod(tmp, 0o755)  # the embedded PostgreSQL runs as the postgres user
    config = f"{tmp}/config"
    shutil.copytree(os.path.join(ROOT, "example-config-repo", "agents"), f"{config}/agents")
    for name, original in COPIES.items():
        text = open(f"{config}/agents/{original}.yaml").read()
        text, n = re.subn(rf"(?m)^  name: {original}$", f"  name: {name}", text, count=1)
        assert n == 1, f"no metadata name in {original}.yaml"
        open(f"{config}/agents/{name}.yaml", "w").write(text)
    os.makedirs(f"{config}/nodes")
    for name, _, os_, tags in NODES:
        open(f"{config}/nodes/{name}.yaml", "w").write(
            f"apiVersion: car/v1\nkind: Node\nmetadata:\n  name: {name}\nspec:\n  description: benchmark node {name}\n"
            f"  os: {os_}\n  tags: [{', '.join(tags)}]\n")

    api = free_port()
    env = dict(os.environ, CONFIG_REPO=config, DATA_DIR=f"{tmp}/data", API_PORT=str(api), UI_PORT=str(free_port()),
               BIND_ADDRESS="127.0.0.1", RUST_LOG="warn,car_server::startup=info", **ADMIN_ENV)
    env.pop("DATABASE_URL", None)
    log = f"{tmp}/server.log"
    server = subprocess.Popen([os.path.join(target, "release", "car-server"), "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", f"{tmp}/data/postgres/socket", "-p", "5432",
            "-U", "car", "-d", "car"]
    conn = None
    key = None

    def get(path):
        nonlocal conn, key
        if key is None:
            key = api_key(f"http://127.0.0.1:{api}", timeout=1800)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", api, timeout=60)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        resp = conn.getresponse()
        return resp.status, resp.read()

    try:
        deadline = time.time() + 120
        while True:
            try:
                status, body = get("/api/v1/agents")
                if status == 200 and len(json.loads(body)["agents"]) == len(AGENTS):
                    break
            except (OSError, http.client.HTTPException):
                conn = None
            if time.time() > deadline or server.poll() is not None:
                sys.exit("the server did not apply the config; its log ends:\n" + open(log).read()[-2000:])
            time.sleep(0.2)

        # Fewer checkpoints while loading (the cluster is this benchmark's own); then back to the defaults,
        # and a checkpoint so that no write-back of the load runs during the measurement.
        subprocess.run(psql + ["-c", "ALTER SYSTEM SET max_wal_size = '16GB'", "-c", "SELECT pg_reload_conf()"],
                       check=True, capture_output=True)
        t = time.time()
        subprocess.run(psql, input=insert_sql(ROWS), text=True, check=True)
        inserted = time.time() - t
        t = time.time()
        subprocess.run(psql + ["-c", "VACUUM (ANALYZE) runs", "-c", "VACUUM (ANALYZE) run_inputs"], check=True)
        vacuumed = time.time() - t
        subprocess.run(psql + ["-c", "ALTER SYSTEM RESET max_wal_size", "-c", "SELECT pg_reload_conf()", "-c", "CHECKPOINT"],
                       check=True, capture_output=True)
        runs, table, inputs, copies = map(int, subprocess.run(
            psql + ["-At", "-F", " ", "-c",
                    "SELECT count(*), pg_total_relation_size('runs'), pg_total_relation_size('run_inputs'), "
                    "sum(pg_column_size(i.agent) + pg_column_size(i.files)) FROM runs r JOIN run_inputs i ON i.hash = r.inputs"],
            check=True, capture_output=True, text=True).stdout.split())

        # The requests: (label, HTTP path, [(prepared statement, parameters)] of the SQL the server runs).
        q = urllib.parse.quote
        status, body = get("/api/v1/runs?limit=50")
        assert status == 200, (status, body[:300])
        page = json.loads(body)
        cursor, one = page["next"], page["items"][-1]["id"]
        kinds = [
            ("runs?limit=50", "/api/v1/runs?limit=50", [("runs", [None, None, None, None, 50])]),
            (f"&agent={AGENT}", f"/api/v1/runs?limit=50&agent={q(AGENT)}", [("runs", [AGENT, None, None, None, 50])]),
            (f"&node={NODE}", f"/api/v1/runs?limit=50&node={q(NODE)}", [("runs", [None, NODE, None, None, 50])]),
            ("&status=failed", "/api/v1/runs?limit=50&status=failed", [("runs", [None, None, "failed", None, 50])]),
            ("&agent=&status=failed", f"/api/v1/runs?limit=50&agent={q(AGENT)}&status=failed",
             [("runs", [AGENT, None, "failed", None, 50])]),
            ("second page (before=)", f"/api/v1/runs?limit=50&before={q(cursor)}", [("runs", [None, None, None, cursor, 50])]),
            (f"agents/{AGENT} (stats)", f"/api/v1/agents/{q(AGENT)}", [("stats", [AGENT]), ("last_runs", [AGENT])]),
            ("runs/{id} (run view)", f"/api/v1/runs/{q(one)}",
             [("run", [one]), ("transitions", [one]), ("attempts", [one]), ("approvals", [None, one])]),
        ]

        machine = Machine()
        machine.postmaster = int(open(f"{tmp}/data/postgres/data/postmaster.pid").readline())
        quiet = machine.wait_quiet()
        machine.start()
        # Through the server.
        http_ms = {k[0]: [] for k in kinds}
        for r in range(REQUESTS + 1):
            for label, path, _ in kinds:
                t = time.perf_counter()
                status, body = get(path)
                elapsed = (time.perf_counter() - t) * 1000
                assert status == 200, (path, status, body[:300])
                if r:  # the first round warms up
                    http_ms[label].append(elapsed)

        others_http = machine.others()
        machine.start()
        # The same SQL straight to PostgreSQL, in the same order.
        script = [f"PREPARE runs(text, text, text, text, int8) AS {SQL_RUNS};",
                  f"PREPARE stats(text) AS {SQL_STATS};", f"PREPARE last_runs(text) AS {SQL_LAST};",
                  f"PREPARE run(text) AS {SQL_RUN};", f"PREPARE transitions(text) AS {SQL_TRANSITIONS};",
                  f"PREPARE attempts(text) AS {SQL_ATTEMPTS};", f"PREPARE approvals(text, text) AS {SQL_APPROVALS};",
                  "\\o /dev/null", "\\timing on"]
        order = []
        for r in range(REQUESTS + 1):
            for label, _, stmts in kinds:
                for name, args in stmts:
                    script.append(f"EXECUTE {name}({', '.join(map(lit, args))});")
                    order.append((r, label))
        script += ["\\timing off", "\\o"]
        explain = {}
        for label, _, stmts in kinds:
            for name, args in stmts:
                marker = f"-- plan {label} {name}"
                script += [f"\\echo '{marker}'", f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}({', '.join(map(lit, args))});"]
        out = subprocess.run(psql, input="\n".join(script) + "\n", text=True, check=True, capture_output=True).stdout
        others_sql = machine.others()
        times = [float(m) for m in re.findall(r"^Time: ([0-9.]+) ms", out, re.M)]
        assert len(times) == len(order), f"psql timed {len(times)} of {len(order)} statements"
        sql_ms = {k[0]: [0.0] * REQUESTS for k in kinds}
        for (r, label), ms in zip(order, times):
            if r:
                sql_ms[label][r - 1] += ms
        for part in out.split("-- plan ")[1:]:
            head, _, plan = part.partition("\n")
            explain.setdefault(head.rsplit(" ", 1)[0], []).append(f"[{head.rsplit(' ', 1)[1]}]\n{plan.rstrip()}")
    except BaseException:
        state = "is running" if server.poll() is None else f"exited ({server.returncode})"
        print(f"the server {state}; its log ends:\n" + open(log).read()[-2000:], file=sys.stderr)
        pglog = f"{tmp}/data/postgres/postgres.log"
        if os.path.exists(pglog):
            print("PostgreSQL's log ends:\n" + open(pglog).read()[-2000:], file=sys.stderr)
        raise
    finally:
        if conn:
            conn.close()
        stop_server(server)
        if os.environ.get("BENCH_KEEP") == "1":
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"history: {runs} runs; inserted in {inserted:.0f} s, VACUUM (ANALYZE) in {vacuumed:.0f} s")
    print(f"size: runs {table / 2**30:.2f} GiB with indexes and TOAST = {table / runs:.0f} B per run "
          f"(target < 1024), run_inputs {inputs / 2**10:.0f} KiB; each run keeping its own inputs "
          f"(the layout before): +{copies / runs:.0f} B per run, {(table + copies) / 2**30:.2f} GiB")
    print(f"{REQUESTS} requests of each kind, interleaved; agent {AGENT} ({AGENTS[0][1]:.0%} of the runs), "
          f"node {NODE} ({NODES[0][1]:.0%}); target p99 < {TARGET_MS} ms")
    print(f"  {'request (GET /api/v1/...)':28} {'car-server p50':>14} {'p99':>8}   {'same SQL in psql p50':>20} {'p99':>8}")
    missed = []
    for label, _, _ in kinds:
        h, s = http_ms[label], sql_ms[label]
        ok = percentile(h, 99) < TARGET_MS
        if not ok:
            missed.append(label)
        print(f"  {label:28} {percentile(h, 50):11.1f} ms {percentile(h, 99):5.1f} ms   "
              f"{percentile(s, 50):17.1f} ms {percentile(s, 99):5.1f} ms   {'met' if ok else 'MISSED'}")
    print(f"other processes on the machine kept {others_http:.2f} cores busy on average while the server was measured, "
          f"{others_sql:.2f} during the baseline (before: {quiet:.2f}; {os.cpu_count()} cores)")
    for label in (k[0] for k in kinds):
        if label in missed or EXPLAIN:
            print(f"\nplan of {label} (the server's SQL as a prepared statement, after the timed rounds):")
            print("\n".join(explain[label]))


if __name__ == "__main__":
    main()
