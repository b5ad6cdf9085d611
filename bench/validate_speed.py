#!/usr/bin/env python3
"""Benchmark: `car-server validate` on a generated repo of 10,000 documents in
2,000 files (target: under 1 s on the 2-core reference machine), next to a
baseline measured in the same run: check-jsonschema (PyPI) validating the same
10,000 documents against the same generated schema.

check-jsonschema reads one document per file, so the baseline gets the same
documents split one per file (10,000 files); both tools see identical content.

Usage: python3 bench/validate_speed.py [--car PATH] [--check-jsonschema PATH]
(defaults: target/release/car-server, built if missing; check-jsonschema from
PATH or the project's tool venv).
"""
import argparse, os, re, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES, DOCS_PER_FILE = 2000, 5


def example_node():
    """The text of the example repo's first single-document Node file, without its modeline."""
    nodes = os.path.join(ROOT, "example-config-repo", "nodes")
    for f in sorted(os.listdir(nodes)):
        text = open(os.path.join(nodes, f)).read()
        if text.count("\nkind: Node") == 1 and "\n---" not in text:
            body = text.split("\n", 1)[1]
            name = re.search(r"(?m)^  name:\s*(\S+)\s*$", body).group(1)
            return body, name
    sys.exit("no single-document Node file in example-config-repo/nodes")


def generate(root):
    body, name = example_node()
    pattern = re.compile(r"(?m)^(  name:\s*)" + re.escape(name) + r"\s*$")
    big, split = os.path.join(root, "repo"), os.path.join(root, "split")
    os.makedirs(big)
    os.makedirs(split)
    for f in range(FILES):
        docs = [pattern.sub(rf"\g<1>n{f}-{k}", body, count=1) for k in range(DOCS_PER_FILE)]
        open(f"{big}/f{f:04}.yaml", "w").write("\n---\n".join(docs))
        for k, d in enumerate(docs):
            open(f"{split}/f{f:04}-{k}.yaml", "w").write(d)
    return big, split


def best_of(n, cmd):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        best = min(best, time.perf_counter() - t)
        if r.returncode != 0:
            sys.exit(f"{cmd[0]} failed ({r.returncode}): {(r.stdout + r.stderr)[-400:]}")
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--car", default=None)
    ap.add_argument("--check-jsonschema", default=None)
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    car = a.car or os.path.join(target, "release", "car-server")
    if not a.car:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "car-server"], cwd=ROOT, check=True)
    cj = a.check_jsonschema or os.environ.get("CAR_CHECK_JSONSCHEMA") or shutil.which("check-jsonschema")
    if not cj:
        sys.exit("check-jsonschema not found: run scripts/tools.sh or pip install check-jsonschema")
    tmp = tempfile.mkdtemp(prefix="car-bench-")
    try:
        big, split = generate(tmp)
        ours = best_of(3, [car, "validate", big])
        files = sorted(os.path.join(split, f) for f in os.listdir(split))
        schema = os.path.join(ROOT, "schemas", "json", "node.schema.json")
        theirs = best_of(1, [cj, "--schemafile", schema] + files)
    finally:
        shutil.rmtree(tmp)
    n = FILES * DOCS_PER_FILE
    print(f"documents: {n} in {FILES} files (check-jsonschema: {len(files)} single-document files)")
    print(f"car-server validate:  {ours * 1000:8.0f} ms  (best of 3; target < 1000 ms: {'met' if ours < 1 else 'MISSED'})")
    print(f"check-jsonschema:     {theirs * 1000:8.0f} ms  (baseline, same documents, same schema)")
    print(f"ratio: car-server is {theirs / ours:.1f}x faster")


if __name__ == "__main__":
    main()
