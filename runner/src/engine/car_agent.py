"""car_agent: what a Python agent script uses to work with its runner.

The runner on the node puts this module on the script's path for every run
(standard library only, Python 3.8+). A script agent looks like this:

    import car_agent

    async def main(ctx):
        pools = ctx.sh("zpool list -H -o name,health")   # through the agent's tool rules
        ctx.log("pools:", pools.stdout.strip())
        reply = await ctx.claude("Explain this zpool output:\n" + pools.stdout)
        ctx.report("succeeded", reply.text, {"pools": pools.stdout.split()})

    car_agent.run(main)

`ctx` (a `Context`) offers:

- `ctx.sh(command, timeout=None, check=False)`: runs a shell command (bash)
  on the node. It goes through the agent's tool rules exactly like a model's
  Bash call: allowed commands run, denied ones raise `Denied`, and commands
  the rules hold for approval wait for a human (then run, or raise `Denied`).
  Returns a `CommandResult` (`exit_code`, `stdout`, `stderr`, `ok`); with
  `check=True` a non-zero exit raises `CommandFailed`.
- `await ctx.claude(prompt, report=None, model=None)`: asks the model. The
  runner runs the conversation, so its tool calls obey the same rules and
  approvals, and its tokens and cost count towards the run and the agent's
  budget. `report` is a JSON Schema for a structured answer. Returns a
  `ClaudeReply` (`text`, `report`, `usage`); failures raise `ClaudeError`
  (`kind`: `rate_limited`, `budget`, `max_turns`, …).
- `ctx.report(status, summary, data=None)`: the run's outcome as the script
  sees it: `status` is "succeeded" or "failed", `summary` one line for the
  dashboard and notifications, `data` the structured report (a dict) that
  notification rules test as `run.report.<field>`. The last call wins.
- `ctx.log(*values)`: a line in the run's log (as `print` does; anything
  printed on stdout or stderr is logged too).
- `ctx.run_id`, `ctx.agent`, `ctx.node` (`name`, `os`, `tags`),
  `ctx.context` (a dict: what started the run, e.g. a trigger's payload) and
  `ctx.gathered` (the output of the agent's `gather` commands).

The run succeeds when `main` returns (or the script exits 0) unless it
reported "failed"; an exception or a non-zero exit fails it, with the
traceback in the run's error. An agent that declares a `report` must call
`ctx.report` with one.

Calls to the runner go one at a time (concurrent ones wait for each other).
They travel as `::ctx:: {json}` lines on stdout, answered on stdin, so the
script must not read stdin itself.

Outside a runner (on your workstation: `car-runner agent-helper >
car_agent.py` writes this file) `ctx.sh` runs commands directly with no
rules, `ctx.claude` raises `ClaudeError`, and `ctx.report` prints what it
would report, so a script can be tried by hand.
"""

import asyncio
import inspect
import json
import os
import subprocess
import sys
import threading
import traceback

__all__ = ["run", "Context", "CommandResult", "ClaudeReply", "AgentError", "Denied", "CommandFailed", "ClaudeError"]


class AgentError(Exception):
    """A request the runner could not fulfil; `kind` says why, `hint` what to do."""

    def __init__(self, kind, message, hint=None, detail=None):
        super().__init__(message if not hint else f"{message} (hint: {hint})")
        self.kind, self.message, self.hint, self.detail = kind, message, hint, detail


class Denied(AgentError):
    """The agent's tool rules, or a human, refused a command."""


class CommandFailed(AgentError):
    """`ctx.sh(..., check=True)` and the command exited non-zero."""


class ClaudeError(AgentError):
    """`ctx.claude` did not get an answer."""


class CommandResult:
    def __init__(self, command, exit_code, stdout, stderr, truncated=False, note=None):
        self.command, self.exit_code, self.stdout, self.stderr = command, exit_code, stdout, stderr
        self.truncated, self.note = truncated, note

    @property
    def ok(self):
        return self.exit_code == 0

    def __repr__(self):
        return f"CommandResult({self.command!r}, exit_code={self.exit_code})"


class ClaudeReply:
    def __init__(self, text, report=None, usage=None):
        self.text, self.report, self.usage = text, report, usage or {}

    def __repr__(self):
        return f"ClaudeReply({self.text!r})"


class _Runner:
    """Requests to the runner: one `::ctx::` line out, one JSON line back."""

    def __init__(self):
        self._lock = threading.Lock()
        self._next = 0
        self._out = sys.__stdout__
        self._in = sys.__stdin__

    def call(self, op, **fields):
        with self._lock:
            self._next += 1
            request = dict(fields, id=self._next, op=op)
            sys.stdout.flush()
            sys.stderr.flush()
            self._out.write("::ctx:: " + json.dumps(request, separators=(",", ":")) + "\n")
            self._out.flush()
            line = self._in.readline()
        if not line:
            raise AgentError("runner", "the runner closed the connection", "the run was probably cancelled")
        answer = json.loads(line)
        if answer.get("ok"):
            return answer.get("result") or {}
        error = answer.get("error") or {}
        kind = error.get("kind", "error")
        cls = {"denied": Denied}.get(kind, ClaudeError if op == "claude" else AgentError)
        raise cls(kind, error.get("message", "the runner refused the request"), error.get("hint"), error.get("detail"))


class Context:
    """What a script gets from its run (see the module's documentation)."""

    def __init__(self):
        env = os.environ
        self.run_id = env.get("CAR_RUN_ID", "local")
        self.agent = env.get("CAR_AGENT", os.path.splitext(os.path.basename(sys.argv[0] or "agent"))[0])
        tags = [t for t in env.get("CAR_NODE_TAGS", "").split(",") if t]
        self.node = {"name": env.get("CAR_NODE_NAME", os.uname().nodename), "os": env.get("CAR_NODE_OS", "linux"),
                     "tags": tags}
        text = env.get("CAR_CONTEXT", "").strip()
        self.context = json.loads(text) if text else {}
        if not isinstance(self.context, dict):
            self.context = {"value": self.context}
        self.gathered = ""
        if env.get("CAR_GATHERED"):
            with open(env["CAR_GATHERED"], encoding="utf-8", errors="replace") as f:
                self.gathered = f.read()
        self._runner = _Runner() if env.get("CAR_CTX") == "stdio" else None
        self._reported = None

    def log(self, *values, sep=" "):
        print(*values, sep=sep, flush=True)

    def sh(self, command, timeout=None, check=False):
        if self._runner:
            r = self._runner.call("sh", command=command, timeout_s=timeout)
            result = CommandResult(command, r.get("exit_code"), r.get("stdout", ""), r.get("stderr", ""),
                                   r.get("truncated", False), r.get("note"))
        else:
            try:
                p = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=timeout)
                result = CommandResult(command, p.returncode, p.stdout, p.stderr)
            except subprocess.TimeoutExpired as e:
                result = CommandResult(command, None, e.stdout or "", e.stderr or "", note=f"stopped after {timeout}s")
        if check and not result.ok:
            raise CommandFailed("exit", f"`{command}` exited with {result.exit_code}: {result.stderr.strip()[-500:]}")
        return result

    async def claude(self, prompt, report=None, model=None):
        if not self._runner:
            raise ClaudeError("no_runner", "ctx.claude needs the runner", "run the agent from the dashboard or API")
        r = await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._runner.call("claude", prompt=prompt, report=report, model=model))
        return ClaudeReply(r.get("text") or "", r.get("report"), r.get("usage"))

    def report(self, status, summary, data=None):
        if status not in ("succeeded", "failed"):
            raise ValueError(f'report status must be "succeeded" or "failed", not {status!r}')
        if data is not None and not isinstance(data, dict):
            raise ValueError("report data must be a dict (the structured report)")
        summary = " ".join(str(summary).split())
        self._reported = status
        if self._runner:
            self._runner.call("report", status=status, summary=summary, data=data)
        else:
            print(f"[report] {status}: {summary}")
            print("[report] " + json.dumps(data, indent=2, sort_keys=True, default=str))


def run(main):
    """Runs `main(ctx)` (a function or a coroutine function) and exits: with
    the int it returns, else 0; 1 on an exception (the traceback goes to
    stderr) or, outside a runner, when it reported "failed"."""
    ctx = Context()
    try:
        result = main(ctx)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        sys.exit(1)
    if isinstance(result, int) and not isinstance(result, bool):
        sys.exit(result)
    # By hand, a reported failure shows in the exit status; a runner reads the report itself.
    sys.exit(1 if ctx._runner is None and ctx._reported == "failed" else 0)
