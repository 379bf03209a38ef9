#!/usr/bin/env python3
"""TLS costs of the gateway, with nginx measured the same way as a floor.

VOMS users reach the gateway over TLS with an RFC 3820 proxy chain as
their client certificate, so two costs matter beside plain HTTP:

1. The same compute show over TLS with keep-alive (wrk -t1 -c8, token
   auth): CPU per request of the gateway with `[server.tls]` against
   nginx terminating TLS and relaying the same
   `GET /compute/v2.0/servers/<id>` to the same simulator process; the
   plain-HTTP figures of both in the same run, so the difference is what
   TLS adds.
2. Full handshakes (`examples/tls_bench.rs`: every connection new,
   resumption off, X25519, one show per connection with
   `Connection: close`): CPU per connection, which is handshakes (each
   with its request) per second per core, for a client without a
   certificate, with a user certificate, and with a VOMS proxy chain
   (proxy + user certificate, authenticated by the `voms` filter through
   the simulator's astavoms, its exchange cached, no token). nginx is
   measured without a certificate and with the user certificate (it
   verifies plain chains; OpenSSL refuses RFC 3820 proxies unless the
   application allows them, which nginx does not). A last row keeps the
   proxy's connection alive for 100 shows: the VOMS user's cost per
   request once connected.

The test PKI (ECDSA P-256, made anew each run by `tls_bench pki`), the
simulator, the two gateways (TLS and plain, the same pipeline:
occi_negotiate, voms, keystone) and nginx (TLS and plain listeners, one
worker) are all local; CPU is utime+stime from /proc of each server
process (nginx: master and worker summed), the median of `--repeat`
rounds; ratios are medians of each round's ratio.

Usage: python3 benches/tls.py [--no-build] [--duration 4] [--handshakes 2000]
           [--repeat 1] [--gateway-bin PATH] [--json PATH]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (simulator, gateway, nginx and wrk helpers)

ROOT = load.ROOT
TLS_BENCH = os.path.join(ROOT, "target", "release", "examples", "tls_bench")


def gateway_toml(port, sim, store, tls=None):
    """The load benchmark's gateway with the `voms` filter before
    `keystone`; with `tls` ({"cert", "key", "client_ca"}) a TLS listener
    asking for optional client certificates."""
    text = load.gateway_toml(port, sim).replace("{store}", store)
    text = text.replace('filters = ["occi_negotiate", "keystone"]',
                        'filters = ["occi_negotiate", "voms", "keystone"]')
    text += f'\n[filter.voms]\nuse = "voms_exchange"\nastavoms_url = "{sim}/astavoms"\n'
    if tls:
        text = text.replace(f'public_url = "http://127.0.0.1:{port}"',
                            f'public_url = "https://localhost:{port}"')
        text += (f'\n[server.tls]\ncert = "{tls["cert"]}"\nkey = "{tls["key"]}"\n'
                 f'client_ca = "{tls["client_ca"]}"\nclient_auth = "optional"\n')
    return text


def handshakes(pids, port, path, pki, n, cert=None, headers=(), requests=1):
    """`n` new TLS connections, 8 at a time, `requests` each; the server's
    CPU per connection and per request."""
    cmd = [TLS_BENCH, "handshakes", f"127.0.0.1:{port}", path, "--ca",
           os.path.join(pki, "ca.pem"), "-n", str(n), "-c", "8", "-r", str(requests)]
    if cert:
        cmd += ["--cert", os.path.join(pki, f"{cert}.pem"), "--key",
                os.path.join(pki, f"{cert}.key")]
    for h in headers:
        cmd += ["-H", h]
    u0, s0 = load.cpu_split(pids)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    u1, s1 = load.cpu_split(pids)
    if out.returncode != 0:
        raise SystemExit(f"tls_bench failed: {out.stderr[-500:]}")
    report = json.loads(out.stdout.strip().splitlines()[-1])
    if report["errors"] or set(report["statuses"]) != {"200"}:
        raise SystemExit(f"{path} over TLS ({cert or 'no certificate'}): {report}")
    cpu = u1 - u0 + s1 - s0
    return {"cpu_us_per_conn": cpu / n * 1e6, "cpu_us_per_req": cpu / (n * requests) * 1e6,
            "user_us_per_conn": (u1 - u0) / n * 1e6, "sys_us_per_conn": (s1 - s0) / n * 1e6,
            "conn_per_s": n / report["seconds"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    ap.add_argument("--handshakes", type=int, default=2000, help="connections per run")
    ap.add_argument("--repeat", type=int, default=1, help="rounds; medians are kept")
    ap.add_argument("--json", default=os.path.join(ROOT, "target", "bench-tls.json"))
    load.add_gateway_bin(ap)
    a = ap.parse_args()
    gateway_bin = load.gateway_bin(a)
    load.exit_on_sigterm()
    load.ensure_tool("wrk", ["wrk"])
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "snf-occi", "--example",
                        "tls_bench"], cwd=ROOT, check=True)
    load.raise_nofile()
    tmp = tempfile.mkdtemp(prefix="snf-occi-tls-")
    pki = os.path.join(tmp, "pki")
    out = subprocess.run([TLS_BENCH, "pki", pki], capture_output=True, text=True, check=True)
    dn, vo = out.stdout.split("\n")[:2]
    tls = {"cert": os.path.join(pki, "server.pem"), "key": os.path.join(pki, "server.key"),
           "client_ca": os.path.join(pki, "ca.pem")}

    sim_port, gw_port, plain_port = load.free_port(), load.free_port(), load.free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    uuid, token, _ = load.USERS["alice"]
    files = {
        "sim.toml": load.simulator_toml(sim_port)
        + f'[[simulator.voms_users]]\ndn = "{dn}"\nvo = "{vo}"\nuser = "{uuid}"\n'
          f'project = "{load.PROJECT}"\n',
        "gw.toml": gateway_toml(gw_port, sim, os.path.join(tmp, "tls.db"), tls),
        "plain.toml": gateway_toml(plain_port, sim, os.path.join(tmp, "plain.db")),
    }
    for name, text in files.items():
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    procs = []
    tok = {"X-Auth-Token": token}
    token_header = f"X-Auth-Token: {token}"
    rows = []
    try:
        procs.append(load.start(["simulator"], os.path.join(tmp, "sim.toml")))
        load.wait_http(f"{sim}/_sim/state")
        load.seed(sim)
        gateway = load.start(["serve"], os.path.join(tmp, "gw.toml"), binary=gateway_bin)
        procs.append(gateway)
        plain = load.start(["serve"], os.path.join(tmp, "plain.toml"), binary=gateway_bin)
        procs.append(plain)
        nginx = load.Nginx(tmp, sim_port, tls)
        procs.append(nginx)
        servers = json.loads(load.http(f"{sim}/compute/v2.0/servers", headers=tok)[2])
        sid = servers["servers"][0]["id"]
        show, relayed = f"/compute/{sid}", f"/compute/v2.0/servers/{sid}"
        plain_url = f"http://127.0.0.1:{plain_port}"
        load.wait_http(f"{plain_url}{show}", headers=tok)
        load.wait_http(f"{nginx.url}{relayed}", headers=tok)
        script = os.path.join(tmp, "report.lua")
        with open(script, "w") as f:
            f.write(load.LUA)
        gw_pids, ng_pids = [gateway.pid], nginx.pids()
        # Warm the TLS gateway (auth cache, pools, the proxy's exchange).
        handshakes(gw_pids, gw_port, show, pki, 20, headers=[token_header])
        handshakes(gw_pids, gw_port, show, pki, 20, cert="proxy")
        d = a.duration
        runs = []
        for i in range(max(1, a.repeat)):
            r = {
                "gw_plain": load.cpu_run(f"{plain_url}{show}", tok, [plain.pid], d, script),
                "gw_tls": load.cpu_run(f"https://127.0.0.1:{gw_port}{show}", tok, gw_pids, d,
                                       script),
                "ng_plain": load.cpu_run(f"{nginx.url}{relayed}", tok, ng_pids, d, script),
                "ng_tls": load.cpu_run(f"https://127.0.0.1:{nginx.tls_port}{relayed}", tok,
                                       ng_pids, d, script),
                "gw_hs_none": handshakes(gw_pids, gw_port, show, pki, a.handshakes,
                                         headers=[token_header]),
                "ng_hs_none": handshakes(ng_pids, nginx.tls_port, relayed, pki, a.handshakes,
                                         headers=[token_header]),
                "gw_hs_user": handshakes(gw_pids, gw_port, show, pki, a.handshakes,
                                         cert="user", headers=[token_header]),
                "ng_hs_user": handshakes(ng_pids, nginx.tls_port, relayed, pki, a.handshakes,
                                         cert="user", headers=[token_header]),
                "gw_hs_proxy": handshakes(gw_pids, gw_port, show, pki, a.handshakes,
                                          cert="proxy"),
                "gw_ka_proxy": handshakes(gw_pids, gw_port, show, pki,
                                          max(8, a.handshakes // 100), cert="proxy",
                                          requests=100),
            }
            print(f"round {i + 1}: TLS show {r['gw_tls']['cpu_us']:.1f} vs nginx"
                  f" {r['ng_tls']['cpu_us']:.1f} µs; proxy handshake"
                  f" {r['gw_hs_proxy']['cpu_us_per_conn']:.0f} µs", file=sys.stderr)
            runs.append(r)
    finally:
        load.stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)

    def med(key, field):
        return load.median([r[key][field] for r in runs])

    def ratio(a_key, b_key, field):
        return load.median([r[a_key][field] / r[b_key][field] for r in runs])

    keep = [
        ("plain HTTP", "gw_plain", "ng_plain"),
        ("TLS, keep-alive", "gw_tls", "ng_tls"),
    ]
    print(f"TLS benchmark: median of {len(runs)} round(s); wrk -t1 -c8 -d{d}s; handshakes:"
          f" tls_bench -n {a.handshakes} -c 8 (full handshakes, X25519, ECDSA P-256 server"
          " and client keys)")
    print()
    print("| same show, keep-alive (token) | gateway CPU µs/req | nginx CPU µs/req |"
          " gateway / nginx |")
    print("|---|---|---|---|")
    for label, g, n in keep:
        rows.append({"measure": label, "gateway_cpu_us": med(g, "cpu_us"),
                     "nginx_cpu_us": med(n, "cpu_us"), "ratio": ratio(g, n, "cpu_us")})
        print(f"| {label} | {med(g, 'cpu_us'):.1f} | {med(n, 'cpu_us'):.1f} |"
              f" {ratio(g, n, 'cpu_us'):.2f}x |")
    added_gw = load.median([r["gw_tls"]["cpu_us"] - r["gw_plain"]["cpu_us"] for r in runs])
    added_ng = load.median([r["ng_tls"]["cpu_us"] - r["ng_plain"]["cpu_us"] for r in runs])
    print(f"| TLS's share (TLS - plain) | {added_gw:.1f} | {added_ng:.1f} | |")
    print()
    print("| full handshake + one show per connection | gateway CPU µs/conn | gateway"
          " handshakes/s per core | nginx CPU µs/conn | nginx handshakes/s per core |"
          " gateway / nginx |")
    print("|---|---|---|---|---|---|")
    full = [
        ("no client certificate (token)", "gw_hs_none", "ng_hs_none"),
        ("user certificate (token)", "gw_hs_user", "ng_hs_user"),
        ("VOMS proxy chain (proxy + user), VOMS auth", "gw_hs_proxy", None),
    ]
    for label, g, n in full:
        gc = med(g, "cpu_us_per_conn")
        nc = med(n, "cpu_us_per_conn") if n else None
        row = {"measure": label, "gateway_cpu_us_per_conn": gc,
               "gateway_handshakes_per_s_per_core": 1e6 / gc,
               "nginx_cpu_us_per_conn": nc,
               "nginx_handshakes_per_s_per_core": 1e6 / nc if nc else None,
               "ratio": ratio(g, n, "cpu_us_per_conn") if n else None}
        rows.append(row)
        print(f"| {label} | {gc:.0f} | {1e6 / gc:,.0f} |"
              f" {'' if nc is None else f'{nc:.0f}'} |"
              f" {'n/a (no proxy certificates)' if nc is None else f'{1e6 / nc:,.0f}'} |"
              f" {'' if n is None else format(row['ratio'], '.2f') + 'x'} |")
    ka = med("gw_ka_proxy", "cpu_us_per_req")
    rows.append({"measure": "VOMS proxy, keep-alive (100 shows per connection)",
                 "gateway_cpu_us_per_req": ka})
    print(f"| VOMS proxy chain, keep-alive, 100 shows per connection | {ka:.1f} per show |"
          " | | | |")
    split = {k: {f: load.median([r[k].get(f) for r in runs]) for f in runs[0][k]}
             for k in runs[0]}
    result = {"rows": rows, "runs": split, "repeat": len(runs), "duration": d,
              "handshakes": a.handshakes}
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"written {a.json}")


if __name__ == "__main__":
    sys.exit(main())
