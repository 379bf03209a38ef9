#!/usr/bin/env python3
"""Instruction profile of the gateway's hot path (valgrind callgrind).

callgrind counts instructions, not seconds, so the figure is repeatable on
a busy 2-core machine: the same binary and inputs give the same count.

Starts the release simulator normally and the release gateway under
`valgrind --tool=callgrind` (instrumentation off), warms every cache with
a few requests, then switches instrumentation on for exactly N requests of
one scenario over one keep-alive connection, and reports instructions per
request plus the top functions (inclusive) from callgrind_annotate.

The instructions are then grouped two ways (see `STAGES`, `crate_of`):

- by stage of the request: each function's own instructions go to the
  innermost stage function it was called under (decoding Synnefo's JSON,
  rendering, the backend call, hyper's server side, the middleware, the
  app, the allocator, ...), split between callers in proportion to the
  instructions each call edge carried (callgrind records every edge's
  inclusive cost, so the first level is exact; deeper shared helpers
  are apportioned);
- by crate (own instructions of each function, by the crate its name
  starts with).

Usage: python3 benches/profile.py [--no-build] [--requests 200]
           [--scenario show|show-changed|show-json|list|list10k|query|handshake-proxy]
           [--top 25] [--gateway-bin PATH]
           [--json PATH]
       python3 benches/profile.py --compare BEFORE.json AFTER.json
Needs valgrind (Debian package `valgrind`, installed when missing).
Writes the raw profile to target/callgrind.<scenario>.out.1 and, with
`--json`, the grouping (to compare two runs with `--compare`).
"""
import argparse
import collections
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (the same simulator and gateway configuration)
import tls  # noqa: E402  (the TLS gateway and its PKI)

ROOT = load.ROOT


def request(conn, path, headers):
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"GET {path} answered {r.status}: {body[:200]!r}")


def callgrind_control(*args):
    return subprocess.run(["callgrind_control", *args], capture_output=True, text=True,
                          timeout=120)


# Stages of a request, in the order they are reported. A function whose
# name matches a stage's pattern starts that stage; everything it calls
# belongs to it until a function of another stage is called (the
# innermost match wins). The allocator and the kernel-call wrappers are
# leaves: only their own instructions count there.
STAGES = [
    ("allocator", r"^(_?mi_|mi_|__rust_(alloc|dealloc|realloc)|__rdl_|malloc$|free$|realloc$"
                  r"|calloc$|_int_malloc|_int_free|cfree)"),
    ("syscall wrappers (libc)", r"^(__libc_|__GI___libc_|__)?(sendmsg|recvmsg|send|recv|recvfrom|"
                                r"sendto|writev|readv|write|read|epoll_wait|epoll_ctl|futex|"
                                r"syscall|accept4?|clock_gettime|__vdso_clock_gettime)$"),
    ("JSON decode of Synnefo's answer", r"serde_json::de::|serde::de::|serde_json::read::|"
                                        r"::synnefo::serde_util|as serde::de::Deserialize"),
    ("OCCI rendering", r"::occi::render::|serde_json::ser::"),
    ("OCCI request parsing", r"::occi::parse::"),
    ("caches (auth, templates, store)", r"^<?moka::|::cache::|::store::"),
    ("backend call (Synnefo client, hyper client)",
     r"::synnefo::|^<?hyper_util::client::|^<?hyper::client::|hyper_rustls|"
     r"dispatch::Client|role::Client"),
    ("app (OCCI handlers, routing)", r"^<?snf_occi::app::|^<?axum"),
    ("middleware (pipeline, filters, tower)",
     r"^<?snf_occi_middleware::|^<?tower_http::|^<?tower::|^<?snf_occi::pipeline::"),
    # hyper::proto and hyper_util::rt serve both sides: they take their
    # callers' stage (server connection or client connection).
    ("hyper server (connections, HTTP/1 parsing and writing)",
     r"^<?hyper::server::|^<?hyper_util::server::|^<?snf_occi::server|dispatch::Server|"
     r"role::Server"),
    ("TLS (rustls, aws-lc)", r"rustls|aws_lc|^<?webpki|x509_parser"),
    ("logging and metrics", r"^<?tracing|^<?metrics"),
    ("tokio runtime (scheduler, IO driver, timers)",
     r"^<?tokio::runtime::(scheduler|park|driver|time|io::driver|blocking|task::harness|"
     r"task::raw|context)"),
]
LEAF_STAGES = {"allocator", "syscall wrappers (libc)"}
OTHER = "other (thread start, unattributed)"


def parse_callgrind(path):
    """Own instructions per function and the inclusive instructions of
    every caller -> callee edge, from a callgrind out file (names
    compressed as `(id) name`, cost lines after `calls=` are the call's
    inclusive cost)."""
    names = {}
    own = collections.Counter()
    edges = collections.Counter()
    fn = cfn = None
    pending_call = False
    total = 0

    def name(value):
        value = value.strip()
        if value.startswith("("):
            ident, _, rest = value.partition(")")
            rest = rest.strip()
            if rest:
                names[ident] = rest
            return names.get(ident, value)
        return value

    with open(path, errors="replace") as f:
        for line in f:
            if not line or line[0] == "\n":
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if pending_call:
                    edges[(fn, cfn)] += cost
                    pending_call = False
                else:
                    own[fn] += cost
                continue
            if line.startswith("fn="):
                fn = name(line[3:])
            elif line.startswith("cfn="):
                cfn = name(line[4:])
            elif line.startswith("calls="):
                pending_call = True
            elif line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
    return own, edges, total or sum(own.values())


def stage_of(func, compiled):
    for stage, rx in compiled:
        if rx.search(func):
            return stage
    return None


def group_by_stage(own, edges):
    """Own instructions apportioned to stages through the call graph."""
    compiled = [(stage, re.compile(rx)) for stage, rx in STAGES]
    callers = collections.defaultdict(list)
    for (caller, callee), cost in edges.items():
        if caller != callee and cost > 0:
            callers[callee].append((caller, cost))
    funcs = set(own) | {f for e in edges for f in e}
    anchor = {f: stage_of(f, compiled) for f in funcs}
    share = {f: ({anchor[f]: 1.0} if anchor[f] else {OTHER: 1.0}) for f in funcs}
    # Fixed-point iteration: a function without a stage of its own takes
    # its callers' mix, weighted by the instructions each call carried.
    for _ in range(60):
        changed = 0.0
        for f in funcs:
            if anchor[f] or not callers.get(f):
                continue
            mix = collections.Counter()
            weight = 0
            for caller, cost in callers[f]:
                for st, frac in share[caller].items():
                    # A leaf stage does not pass on to what it calls.
                    mix[OTHER if st in LEAF_STAGES else st] += frac * cost
                weight += cost
            new = {st: v / weight for st, v in mix.items()}
            changed += sum(abs(new.get(k, 0) - share[f].get(k, 0)) for k in set(new) | set(share[f]))
            share[f] = new
        if changed < 1e-9:
            break
    stages = collections.Counter()
    for f, cost in own.items():
        for st, frac in share[f].items():
            stages[st] += cost * frac
    return stages


def crate_of(func):
    """The crate a function's name starts with (`<T as Trait>` by T's)."""
    m = re.match(r"^<*&?(?:mut |dyn )?([A-Za-z_][A-Za-z0-9_]*)::", func)
    if m:
        return m.group(1)
    if re.match(r"^_?mi_|^mi_", func):
        return "mimalloc"
    # aws-lc's C and assembly, linked into the binary (rustls' crypto).
    if re.match(r"^_*(aws_lc|ecp_nistz256|nistz256|x25519|sha\d+_block|bn_mul|p256)", func):
        return "aws-lc (C, assembly)"
    return "libc and other C (" + ("memcpy/memset" if re.search(r"mem(cpy|move|set|cmp)", func)
                                   else "rest") + ")"


def breakdown(path, requests):
    own, edges, total = parse_callgrind(path)
    stages = group_by_stage(own, edges)
    crates = collections.Counter()
    for f, cost in own.items():
        crates[crate_of(f)] += cost
    per = max(1, requests)
    top = sorted(own.items(), key=lambda kv: -kv[1])[:40]
    return {
        "requests": requests,
        "instructions_per_request": round(total / per),
        "stages": {k: round(v / per) for k, v in sorted(stages.items(), key=lambda kv: -kv[1])},
        "crates": {k: round(v / per) for k, v in crates.most_common()},
        "top_own": [[f, round(c / per)] for f, c in top],
    }


def print_breakdown(b, top):
    total = b["instructions_per_request"]
    print(f"instructions per request: {total:,}")
    print("by stage (own instructions under the innermost stage function):")
    for k, v in b["stages"].items():
        print(f"  {v:>12,}  {100 * v / max(1, total):5.1f}%  {k}")
    print("by crate (own instructions):")
    for k, v in list(b["crates"].items())[:20]:
        print(f"  {v:>12,}  {100 * v / max(1, total):5.1f}%  {k}")
    print(f"top {top} functions by own instructions:")
    for f, v in b["top_own"][:top]:
        print(f"  {v:>12,}  {f[:150]}")


def compare(before_path, after_path):
    with open(before_path) as f:
        before = json.load(f)
    with open(after_path) as f:
        after = json.load(f)
    print(f"| instructions per request ({before.get('scenario')} -> {after.get('scenario')}) |"
          f" before | after | change |")
    print("|---|---|---|---|")

    def row(label, a, b):
        change = "" if not a else f"{100 * (b - a) / a:+.1f}%"
        print(f"| {label} | {a:,} | {b:,} | {change} |")

    row("**total**", before["instructions_per_request"], after["instructions_per_request"])
    for key in ("stages", "crates"):
        print(f"| *by {key[:-1]}* | | | |")
        names = list(dict.fromkeys([*before[key], *after[key]]))
        names.sort(key=lambda n: -max(before[key].get(n, 0), after[key].get(n, 0)))
        for n in names[:20 if key == "crates" else None]:
            row(n, before[key].get(n, 0), after[key].get(n, 0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--requests", type=int, default=None,
                    help="measured requests (default 200; 5 for list10k)")
    ap.add_argument("--scenario", default="show",
                    choices=["show", "show-changed", "show-json", "list", "list10k", "query",
                             "handshake-proxy"],
                    help="handshake-proxy: full TLS handshakes presenting a VOMS proxy"
                         " chain, one show each (benches/tls.py's gateway)")
    ap.add_argument("--top", type=int, default=25)
    load.add_gateway_bin(ap)
    ap.add_argument("--json", help="write the grouping here (for --compare)")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"),
                    help="compare two --json files and exit")
    a = ap.parse_args()
    load.exit_on_sigterm()
    gateway_bin = load.gateway_bin(a)
    if a.compare:
        return compare(*a.compare)
    requests = a.requests or {"list10k": 5, "handshake-proxy": 50}.get(a.scenario, 200)
    handshake = a.scenario == "handshake-proxy"
    load.ensure_tool("valgrind", ["valgrind"])
    for tool in ("callgrind_control", "callgrind_annotate"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: apt-get install valgrind")
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "snf-occi", "--example",
                        "tls_bench"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="snf-occi-profile-")
    sim_port, gw_port = load.free_port(), load.free_port()
    sim_cfg, gw_cfg = os.path.join(tmp, "sim.toml"), os.path.join(tmp, "gw.toml")
    sim = f"http://127.0.0.1:{sim_port}"
    sim_toml = load.simulator_toml(sim_port)
    gw_toml = load.gateway_toml(gw_port, sim).replace("{store}", os.path.join(tmp, "store.db"))
    if handshake:
        # benches/tls.py's TLS gateway and PKI; the proxy's holder is alice.
        pki = os.path.join(tmp, "pki")
        dn, vo = subprocess.run([tls.TLS_BENCH, "pki", pki], capture_output=True, text=True,
                                check=True).stdout.split("\n")[:2]
        sim_toml += (f'[[simulator.voms_users]]\ndn = "{dn}"\nvo = "{vo}"\n'
                     f'user = "{load.USERS["alice"][0]}"\nproject = "{load.PROJECT}"\n')
        gw_toml = tls.gateway_toml(gw_port, sim, os.path.join(tmp, "store.db"), {
            "cert": os.path.join(pki, "server.pem"), "key": os.path.join(pki, "server.key"),
            "client_ca": os.path.join(pki, "ca.pem")})
    with open(sim_cfg, "w") as f:
        f.write(sim_toml)
    with open(gw_cfg, "w") as f:
        f.write(gw_toml)
    out = os.path.join(ROOT, "target", f"callgrind.{a.scenario}.out")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    for old in os.listdir(os.path.dirname(out)):
        if old.startswith(os.path.basename(out)):
            os.remove(os.path.join(os.path.dirname(out), old))
    procs = []
    try:
        procs.append(load.start(["simulator"], sim_cfg))
        load.wait_http(f"{sim}/_sim/state")
        user = "dave" if a.scenario == "list10k" else "alice"
        uuid, token, count = load.USERS[user]
        load.http(f"{sim}/_sim/seed/servers", method="POST",
                  body={"user": uuid, "count": count, "status": "ACTIVE"})
        gw = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", gateway_bin, "serve", "--config", gw_cfg],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(gw)
        headers = {"X-Auth-Token": token}
        servers = load.http(f"{sim}/compute/v2.0/servers", headers=headers)[2]
        sid = re.search(rb'"id": ?"?(\d+)', servers).group(1).decode()
        if handshake:
            path = f"/compute/{sid}"

            def handshakes(n):
                return subprocess.run(
                    [tls.TLS_BENCH, "handshakes", f"127.0.0.1:{gw_port}", path, "--ca",
                     os.path.join(pki, "ca.pem"), "--cert", os.path.join(pki, "proxy.pem"),
                     "--key", os.path.join(pki, "proxy.key"), "-n", str(n), "-c", "1"],
                    capture_output=True, text=True, timeout=600).stdout

            deadline = time.time() + 120
            while '"200"' not in handshakes(1):
                if time.time() > deadline:
                    raise SystemExit("the TLS gateway never answered a proxy's show")
                time.sleep(0.5)
            handshakes(10)  # warm: the proxy's exchange, pools, templates
            callgrind_control("--instr=on", str(gw.pid))
            t0 = time.time()
            report = handshakes(requests)
            elapsed = time.time() - t0
            callgrind_control("--instr=off", str(gw.pid))
            if f'"200":{requests}' not in report:
                raise SystemExit(f"handshakes: {report}")
        else:
            load.wait_http(f"http://127.0.0.1:{gw_port}/-/", headers=headers, timeout=120)
            path, extra = {
                "show": (f"/compute/{sid}", {}),
                "show-changed": (f"/compute/{sid}", {}),
                "show-json": (f"/compute/{sid}", {"Accept": "application/occi+json"}),
                "list": ("/compute/", {}),
                "list10k": ("/compute/", {}),
                "query": ("/-/", {}),
            }[a.scenario]
            headers.update(extra)
            conn = http.client.HTTPConnection("127.0.0.1", gw_port, timeout=300)
            for _ in range(5 if a.scenario == "list10k" else 20):  # warm caches and pools
                request(conn, path, headers)
            # show-changed: the server is renamed in the simulator before
            # each show (a call the gateway does not see), so no show finds
            # the answer the last one rendered: decoded, mapped, rendered,
            # and its disks read again (its `updated` stamp moved).
            rename = None
            if a.scenario == "show-changed":
                sim_conn = http.client.HTTPConnection("127.0.0.1", int(sim.rsplit(":", 1)[1]))

                def rename(i):
                    sim_conn.request("PUT", f"/compute/v2.0/servers/{sid}",
                                     body=json.dumps({"server": {"name": f"changed-{i}"}}),
                                     headers={**headers, "Content-Type": "application/json"})
                    r = sim_conn.getresponse()
                    r.read()
                    if r.status >= 300:
                        raise SystemExit(f"rename answered {r.status}")
            callgrind_control("--instr=on", str(gw.pid))
            t0 = time.time()
            for i in range(requests):
                if rename:
                    rename(i)
                request(conn, path, headers)
            elapsed = time.time() - t0
            callgrind_control("--instr=off", str(gw.pid))
            conn.close()
        callgrind_control("--dump", str(gw.pid))
        time.sleep(1)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    # `--dump` writes OUT.1 (the measured requests); OUT itself is the
    # empty dump at exit (instrumentation was off by then).
    dump = out + ".1"
    what = "full TLS handshakes with a VOMS proxy, one show each" if handshake else "requests"
    print(f"scenario {a.scenario}: GET {path}, {requests} {what} under callgrind "
          f"({elapsed:.1f} s wall)")
    b = breakdown(dump, requests)
    b["scenario"] = a.scenario
    print_breakdown(b, a.top)
    print(f"raw profile: {dump} (callgrind_annotate --inclusive=yes {dump})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(b, f, indent=2)
        print(f"written {a.json}")


if __name__ == "__main__":
    sys.exit(main())
