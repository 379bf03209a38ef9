#!/usr/bin/env python3
"""Instruction profile of the gateway's hot path (valgrind callgrind).

callgrind counts instructions, not seconds, so the figure is repeatable on
a busy 2-core machine: the same binary and inputs give the same count.

Starts the release simulator normally and the release gateway under
`valgrind --tool=callgrind` (instrumentation off), warms every cache with
a few requests, then switches instrumentation on for exactly N requests of
one scenario over one keep-alive connection, and reports instructions per
request plus the top functions (inclusive) from callgrind_annotate.

Usage: python3 benches/profile.py [--no-build] [--requests 200]
           [--scenario show|show-json|list|query] [--top 25]
Needs valgrind (Debian package `valgrind`). Writes the raw profile to
target/callgrind.<scenario>.out.
"""
import argparse
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (the same simulator and gateway configuration)

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--scenario", default="show",
                    choices=["show", "show-json", "list", "query"])
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: apt-get install valgrind")
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "snf-occi"], cwd=ROOT,
                       check=True)
    tmp = tempfile.mkdtemp(prefix="snf-occi-profile-")
    sim_port, gw_port = load.free_port(), load.free_port()
    sim_cfg, gw_cfg = os.path.join(tmp, "sim.toml"), os.path.join(tmp, "gw.toml")
    with open(sim_cfg, "w") as f:
        f.write(load.simulator_toml(sim_port))
    sim = f"http://127.0.0.1:{sim_port}"
    with open(gw_cfg, "w") as f:
        f.write(load.gateway_toml(gw_port, sim).replace("{store}",
                                                        os.path.join(tmp, "store.db")))
    out = os.path.join(ROOT, "target", f"callgrind.{a.scenario}.out")
    for old in os.listdir(os.path.dirname(out)):
        if old.startswith(os.path.basename(out)):
            os.remove(os.path.join(os.path.dirname(out), old))
    procs = []
    try:
        procs.append(load.start(["simulator"], sim_cfg))
        load.wait_http(f"{sim}/_sim/state")
        uuid, token, _ = load.USERS["alice"]
        load.http(f"{sim}/_sim/seed/servers", method="POST",
                  body={"user": uuid, "count": 100, "status": "ACTIVE"})
        gw = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", load.BIN, "serve", "--config", gw_cfg],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(gw)
        headers = {"X-Auth-Token": token}
        load.wait_http(f"http://127.0.0.1:{gw_port}/-/", headers=headers, timeout=120)
        tok = {"X-Auth-Token": token}
        servers = load.http(f"{sim}/compute/v2.0/servers", headers=tok)[2]
        sid = re.search(rb'"id": ?"?(\d+)', servers).group(1).decode()
        path, extra = {
            "show": (f"/compute/{sid}", {}),
            "show-json": (f"/compute/{sid}", {"Accept": "application/occi+json"}),
            "list": ("/compute/", {}),
            "query": ("/-/", {}),
        }[a.scenario]
        headers.update(extra)
        conn = http.client.HTTPConnection("127.0.0.1", gw_port, timeout=60)
        for _ in range(20):  # warm: auth cache, templates, catalog, pools
            request(conn, path, headers)
        callgrind_control("--instr=on", str(gw.pid))
        t0 = time.time()
        for _ in range(a.requests):
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
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", dump],
                         capture_output=True, text=True).stdout
    m = re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", ann, re.M)
    total = int(m.group(1).replace(",", "")) if m else None
    print(f"scenario {a.scenario}: GET {path}, {a.requests} requests under callgrind "
          f"({elapsed:.1f} s wall)")
    if total:
        print(f"instructions per request: {total / a.requests:,.0f}")
    lines = [l for l in ann.splitlines() if re.match(r"^\s*[\d,]+ \(", l)]
    print(f"top {a.top} functions (inclusive instructions):")
    for line in lines[1:a.top + 1]:
        print("  " + line.strip()[:160])
    print(f"raw profile: {dump}")


if __name__ == "__main__":
    sys.exit(main())
