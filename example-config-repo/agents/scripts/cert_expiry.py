#!/usr/bin/env python3
"""Check when the TLS certificates of a list of hosts expire.

This is the script behind the `cert-expiry` agent, and a template for your
own script agents: copy it, keep `main(ctx)` and the `car_agent.run`
call at the bottom, replace the check. It uses only the Python standard library, so it runs on any node
that has python3 (TrueNAS SCALE, Ubuntu, Debian and Proxmox do; Unraid needs
Python installed, for example from the NerdTools plugin).

The script contract
-------------------
An agent with `script: scripts/cert_expiry.py` (a path relative to the
agent's YAML file) has no prompt and costs no model tokens unless it asks
the model. For each run, the runner on the node sends the script along with
the run (an edit in git counts from the next run) and runs `python3
<script>` in the run's own working directory, with the runner's `car_agent`
module on the path. The script hands `main` to `car_agent.run`, which calls
it with `ctx`:

* `ctx.sh(command)` runs a shell command on the node through the agent's
  tool rules, exactly like a model's Bash call: allowed commands run,
  denied ones raise `car_agent.Denied`, and commands the rules hold for
  approval wait for a human. It returns `exit_code`, `stdout`, `stderr`.
* `await ctx.claude(prompt, report=None)` asks the model; the runner runs the
  conversation under the same rules, and its tokens count towards the run.
* `ctx.report(status, summary, data)` sets the outcome ("succeeded" or
  "failed"), the one-line summary shown in the dashboard and notifications,
  and the structured report that notification rules test
  (`run.report.<field>`; its shape is the agent's `report` schema).
* `ctx.log(...)` adds a line to the run's log (so does anything printed).
* `ctx.context` is what started the run (e.g. a trigger's webhook payload),
  `ctx.node` the node's `name`, `os` and `tags`, `ctx.run_id` the run's id.

The run fails when `main` raises (the traceback is in the run's error) or
reports "failed"; an agent that declares a `report` must send one. Give the
agent a `timeout` that covers the slowest case; the runner stops the script
and everything it started when it runs out. `car-runner agent-helper`
prints the module with its full documentation.

This check
----------
Connects to each host, reads its certificate and reports the days left.
Fewer than WARN_DAYS days is "expiring", fewer than 0 is "expired". The
hosts come from the run's context when it names them, as `{"hosts": [...]}`
or `{"payload": {"hosts": [...]}}`, and from DEFAULT_HOSTS otherwise. A host
is written "name" (port 443) or "name:port". It needs no shell commands and
no model: Python's own sockets do the work.

The run succeeds when it could do its job, even if certificates are about
to expire: that news travels in the report, and the `certificates-expiring`
notification rule turns it into a message. It fails when no host could be
checked at all. Set FAIL_ON_FINDINGS to make expiring certificates fail the
run instead.

Try it on your workstation (outside a runner the module runs commands
directly and prints the report):

    car-runner agent-helper > car_agent.py
    CAR_CONTEXT='{"hosts": ["example.org", "github.com:443"]}' python3 cert_expiry.py
"""

import socket
import ssl
from datetime import datetime, timezone

import car_agent  # shipped by the runner; see the contract above

# ---------------------------------------------------------------- settings

# Checked when the run's context does not name hosts. Edit these for your homelab.
DEFAULT_HOSTS = [
    "nextcloud.example.org",
    "homeassistant.lan:8123",
    "proxmox.lan:8006",
    "truenas.lan",
]

# Certificates with fewer days left than this are reported as expiring.
WARN_DAYS = 14

# Seconds to wait for a host to connect and complete the TLS handshake.
CONNECT_TIMEOUT = 10

# True: expiring or expired certificates make the run fail (exit 1).
FAIL_ON_FINDINGS = False


# ---------------------------------------------------------------- the check

def hosts_from(context):
    """The hosts to check: from the context if it names them, else the defaults."""
    for source in (context, context.get("payload")):
        if isinstance(source, dict) and isinstance(source.get("hosts"), list):
            hosts = [h for h in source["hosts"] if isinstance(h, str) and h.strip()]
            if hosts:
                return hosts
    return list(DEFAULT_HOSTS)


def split_host(entry):
    """'name' -> ('name', 443); 'name:8443' -> ('name', 8443); '[::1]:8443' -> ('::1', 8443)."""
    entry = entry.strip()
    host, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and (host.endswith("]") or ":" not in host):
        return host.strip("[]"), int(port)
    return entry.strip("[]"), 443  # no port, or a bare IPv6 address


def fetch_certificate(host, port, verify):
    """The server's certificate in DER form.

    With verify=True the handshake fails (ssl.SSLCertVerificationError) when
    the certificate is not trusted or does not match the name; with
    verify=False any certificate is accepted, so its dates can still be read.
    """
    if verify:
        context = ssl.create_default_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True)


def _der_element(data, offset):
    """Read one DER element at offset: (tag, start of content, end of content)."""
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:  # long form: the low bits say how many length bytes follow
        count = length & 0x7F
        length = int.from_bytes(data[offset:offset + count], "big")
        offset += count
    return tag, offset, offset + length


def not_after(der):
    """The certificate's expiry time (UTC), read from its DER encoding.

    The standard library only decodes certificates it has verified, so the
    few fields needed are read directly: Certificate -> TBSCertificate ->
    [version] serialNumber signature issuer validity -> notAfter.
    """
    _, cert_start, _ = _der_element(der, 0)  # Certificate
    _, pos, _ = _der_element(der, cert_start)  # TBSCertificate
    tag, _, end = _der_element(der, pos)
    if tag == 0xA0:  # optional [0] version
        pos = end
    for _ in range(3):  # serialNumber, signature algorithm, issuer
        _, _, pos = _der_element(der, pos)
    _, validity_start, _ = _der_element(der, pos)
    _, _, after_pos = _der_element(der, validity_start)  # skip notBefore
    tag, start, end = _der_element(der, after_pos)
    text = der[start:end].decode("ascii")
    layout = "%y%m%d%H%M%SZ" if tag == 0x17 else "%Y%m%d%H%M%SZ"  # UTCTime or GeneralizedTime
    return datetime.strptime(text, layout).replace(tzinfo=timezone.utc)


def check(entry, now):
    """Check one host; returns a dict for the report."""
    host, port = split_host(entry)
    result = {"host": host, "port": port}
    try:
        try:
            der = fetch_certificate(host, port, verify=True)
            result["trusted"] = True
        except ssl.SSLCertVerificationError as e:
            # Self-signed, expired or wrong name: note why, read it anyway.
            result["trusted"] = False
            result["error"] = e.verify_message or str(e)
            der = fetch_certificate(host, port, verify=False)
        expires = not_after(der)
    except (OSError, ValueError, IndexError) as e:  # DNS, refused, timeout, TLS, bad DER
        result.update(status="unreachable", error=f"{type(e).__name__}: {e}")
        return result
    days_left = (expires - now).days
    result["expires"] = expires.isoformat()
    result["days_left"] = days_left
    if days_left < 0:
        result["status"] = "expired"
    elif days_left < WARN_DAYS:
        result["status"] = "expiring"
    else:
        result["status"] = "ok"
    return result


def label(r):
    """How a checked host is shown: 'name', 'name:8443' or '[::1]:8443'."""
    host = f"[{r['host']}]" if ":" in r["host"] else r["host"]
    return host if r["port"] == 443 else f"{host}:{r['port']}"


def main(ctx):
    ctx.log(f"run {ctx.run_id}: agent {ctx.agent} on {ctx.node['name']} ({ctx.node['os']})")
    hosts = hosts_from(ctx.context)
    now = datetime.now(timezone.utc)
    results = []
    for entry in hosts:
        r = check(entry, now)
        results.append(r)
        if r["status"] == "unreachable":
            ctx.log(f"{label(r)}: UNREACHABLE - {r['error']}")
        else:
            trust = "trusted" if r["trusted"] else f"NOT trusted ({r['error']})"
            ctx.log(f"{label(r)}: {r['status'].upper()} - expires {r['expires'][:10]}, {r['days_left']} days left, {trust}")

    def names(status):
        return [label(r) for r in results if r["status"] == status]

    expired, expiring, unreachable = names("expired"), names("expiring"), names("unreachable")
    untrusted = [label(r) for r in results if r.get("trusted") is False]
    checked = len(results) - len(unreachable)
    report = {
        "ok": not (expired or expiring or unreachable),
        "warn_days": WARN_DAYS,
        "checked": checked,
        "expired": expired,
        "expiring": expiring,
        "unreachable": unreachable,
        "untrusted": untrusted,
        "certificates": results,
    }

    if expired or expiring:
        soonest = sorted((r for r in results if "days_left" in r), key=lambda r: r["days_left"])
        parts = [f"{label(r)} ({r['days_left']}d)" for r in soonest if r["status"] in ("expired", "expiring")]
        summary = f"Certificates: {len(expired)} expired, {len(expiring)} expiring within {WARN_DAYS} days: {', '.join(parts)}"
    elif checked:
        nxt = min((r for r in results if "days_left" in r), key=lambda r: r["days_left"])
        extra = f"; unreachable: {', '.join(unreachable)}" if unreachable else ""
        summary = f"Certificates OK: {checked} checked, next expiry {label(nxt)} in {nxt['days_left']} days{extra}"
    else:
        summary = f"Certificate check failed: none of {len(results)} hosts could be reached"

    failed = checked == 0 or (FAIL_ON_FINDINGS and (expired or expiring))
    ctx.report("failed" if failed else "succeeded", summary, report)


if __name__ == "__main__":
    car_agent.run(main)
