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
import os, subprocess, sys, tempfile, time
from benchlib import ConfigServer, bench_agent, git, percentile

OBJECTS = 1000
COMMITS = int(os.environ.get("BENCH_COMMITS", "50"))
IDLE = float(os.environ.get("BENCH_IDLE", "15"))  # seconds the server idles before its memory is read


def main():
    srv = ConfigServer("car-bench-sync-", OBJECTS)
    mirror = f"{srv.tmp}/mirror.git"
    git(["clone", "-q", "--mirror", srv.bare, mirror], srv.tmp)
    try:
        ours, floor = [], []
        for n in range(1, COMMITS + 1):
            i = n % srv.generated
            path = f"bench/agent-{i:04}.yaml"
            sha = srv.push(path, bench_agent(i, n), f"change {i}")
            t = time.perf_counter()
            srv.webhook(sha)
            if not srv.wait_applied(sha):
                sys.exit(f"commit {sha} not applied in 10 s")
            ours.append(time.perf_counter() - t)
            # The floor: fetch the same commit and parse the changed file.
            one = tempfile.mkdtemp(dir=srv.tmp)
            t = time.perf_counter()
            git(["fetch", "-q", "origin", "+refs/heads/main:refs/heads/main"], mirror)
            open(f"{one}/agent.yaml", "w").write(git(["show", f"{sha}:{path}"], mirror) + "\n")
            subprocess.run([srv.car, "validate", one], check=True, capture_output=True)
            floor.append(time.perf_counter() - t)
        time.sleep(IDLE)
        rss = int(next(l for l in open(f"/proc/{srv.proc.pid}/status") if l.startswith("VmRSS")).split()[1]) / 1024
    finally:
        srv.stop()
    ms = lambda xs, p: percentile(xs, p) * 1000
    print(f"repo: {OBJECTS} objects; {COMMITS} commits, one object changed in each")
    print(f"webhook -> applied:   p50 {ms(ours, 50):6.1f} ms   p99 {ms(ours, 99):6.1f} ms   (target p99 < 300 ms: {'met' if ms(ours, 99) < 300 else 'MISSED'})")
    print(f"floor (fetch+parse):  p50 {ms(floor, 50):6.1f} ms   p99 {ms(floor, 99):6.1f} ms")
    print(f"idle RSS of car-server with the repo loaded: {rss:.1f} MiB (target < 40 MiB: {'met' if rss < 40 else 'MISSED'})")


if __name__ == "__main__":
    main()
