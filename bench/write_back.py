#!/usr/bin/env python3
"""Benchmark: edit-to-applied latency of write-back on a repo of 1,000
objects, next to push-to-applied measured in the same run.

Rounds alternate, each changing one generated agent's description:
- edit: `PUT /api/v1/config/agents/{name}` (validate the whole repository
  with the edit in memory, commit as the user, push to the bare remote, ask
  for a sync) and poll GET /api/v1/sync until its commit is the last applied
  revision;
- baseline: the same kind of change committed and pushed with the git CLI,
  a signed push webhook, and the same poll (as bench/sync_latency.py).
Target: edit -> applied p99 < 500 ms.

Usage: python3 bench/write_back.py   (builds target/release/car-server; BENCH_EDITS to vary)
"""
import os, sys, time
from benchlib import ConfigServer, bench_agent, git, percentile

OBJECTS = 1000
EDITS = int(os.environ.get("BENCH_EDITS", "50"))


def main():
    srv = ConfigServer("car-bench-write-", OBJECTS)
    try:
        edits, pushes = [], []
        for n in range(1, EDITS + 1):
            # Baseline: a push and its webhook.
            i = (2 * n) % srv.generated
            git(["pull", "-q", "origin", "main"], srv.work)
            sha = srv.push(f"bench/agent-{i:04}.yaml", bench_agent(i, n), f"change {i}")
            t = time.perf_counter()
            srv.webhook(sha)
            if not srv.wait_applied(sha):
                sys.exit(f"push {sha} not applied in 10 s")
            pushes.append(time.perf_counter() - t)
            # An edit through the API, on the revision just applied.
            j = (2 * n + 1) % srv.generated
            spec = {"description": f"benchmark agent {j} edited {n}", "prompt": "Check disk usage and report.",
                    "tools": {"allow": ["Read", "Bash(df -h *)"]}, "timeout": "5m"}
            t = time.perf_counter()
            status, done = srv.api.call("PUT", f"/api/v1/config/agents/bench-{j:04}",
                                        {"spec": spec, "base_revision": sha, "message": f"edit {n}"})
            if status != 200 or not done.get("commit"):
                sys.exit(f"edit {n} answered {status}: {done}")
            if not srv.wait_applied(done["commit"]):
                sys.exit(f"edit {done['commit']} not applied in 10 s")
            edits.append(time.perf_counter() - t)
    finally:
        srv.stop()
    ms = lambda xs, p: percentile(xs, p) * 1000
    print(f"repo: {OBJECTS} objects; {EDITS} edits and {EDITS} pushes, one object changed in each")
    print(f"edit -> applied (PUT, commit, push, sync):  p50 {ms(edits, 50):6.1f} ms   p99 {ms(edits, 99):6.1f} ms   "
          f"(target p99 < 500 ms: {'met' if ms(edits, 99) < 500 else 'MISSED'})")
    print(f"push -> applied (git push, webhook, sync):  p50 {ms(pushes, 50):6.1f} ms   p99 {ms(pushes, 99):6.1f} ms   (baseline)")


if __name__ == "__main__":
    main()
