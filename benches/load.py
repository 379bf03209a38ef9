#!/usr/bin/env python3
"""Load benchmark of the snf-occi gateway against the simulator.

Starts the release binary twice: once as the Synnefo simulator
(`snf-occi simulator`) and once as the gateway (`snf-occi serve`) pointed
at it, so that the gateway's CPU can be read from /proc alone. Fills the
simulator (100 servers, 20 volumes, 10 networks, 100 flavors, 200 images),
then measures each scenario with wrk (Debian package `wrk`):

- requests per second (16 connections) and p50/p99 latency (1 connection),
- gateway CPU seconds per request (utime+stime from /proc/PID/stat),
- Synnefo calls per OCCI request (the simulator's exact counters),
- the same for the equivalent direct Synnefo call, and the added p50,
- peak RSS, RSS with 5,000 idle keep-alive connections,
- GET /compute/ with 400 and 10,000 servers (linearity),
- the floor: the same show through a do-nothing hyper proxy
  (examples/floor_proxy.rs), measured the same way.

First, the ratios of issue 18, each against nginx relaying the same
Synnefo call to the same simulator process in the same run (so machine
noise cancels): nginx (Debian's `nginx-light`, else `nginx`, installed
here when missing) with one worker, upstream keep-alive and no access
log, the hyper floor (examples/floor_proxy.rs) beside it. See `ratios`.

Prints the ratio table, then the scenario table, and writes both as JSON
(default target/bench-load.json).
Usage: python3 benches/load.py [--no-build] [--duration 5] [--repeat 1] [--ratios-only]
           [--workers 1] [--gateway-bin PATH] [--json PATH]
Traffic goes to 127.0.0.1 only; every loop is bounded in count and time.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "snf-occi")
FLOOR = os.path.join(ROOT, "target", "release", "examples", "floor_proxy")
CLK_TCK = os.sysconf("SC_CLK_TCK")
REPEAT = 1  # --repeat: loaded runs per scenario, the median kept
# --workers: the gateway's (and the hyper floor's) runtime worker threads,
# one by default as nginx runs one worker process; 0: one per core.
WORKERS = 1

USERS = {
    # name: (uuid, token, servers to seed)
    "alice": ("a11ce000-0000-4000-8000-000000000001", "alice-token", 100),
    "carol": ("ca201000-0000-4000-8000-000000000003", "carol-token", 400),
    "dave": ("da7e0000-0000-4000-8000-000000000004", "dave-token", 10000),
}
PROJECT = "d3m0d3m0-0000-4000-8000-000000000001"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def simulator_toml(port):
    lines = [
        "[simulator]",
        f'listen = "127.0.0.1:{port}"',
        'build_delay = "0s"',
        'action_delay = "0s"',
        # Room for dave's 10,000 servers and their disks.
        "[simulator.quotas]",
        "servers = 100000",
        "volumes = 200000",
        "disk_gib = 100000000",
        "cpus = 100000000",
        "ram_mib = 100000000000",
    ]
    for name, (uuid, token, _) in USERS.items():
        lines += ["[[simulator.users]]", f'uuid = "{uuid}"', f'name = "{name}"',
                  f'token = "{token}"', f'projects = ["{PROJECT}", "{uuid}"]']
    for i in range(1, 101):
        cores, ram, disk = 1 + i % 8, 1024 * (1 + i % 4), 20 + 10 * (i % 5)
        lines += ["[[simulator.flavors]]", f"id = {i}", f'name = "C{cores}R{ram}D{disk}drbd{i}"',
                  f"vcpus = {cores}", f"ram = {ram}", f"disk = {disk}",
                  'disk_template = "drbd"', "allow_create = true"]
    for i in range(200):
        lines += ["[[simulator.images]]", f'id = "img-{i:04d}"', f'name = "Image {i}"',
                  'os = "debian"', 'users = "root"', 'osfamily = "linux"', "size = 2048"]
    return "\n".join(lines) + "\n"


def gateway_toml(port, sim_url):
    return f"""
[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
{f"workers = {WORKERS}" if WORKERS else ""}

[pipeline]
filters = ["occi_negotiate", "keystone"]
app = "occi"

[synnefo]
identity_url = "{sim_url}/identity/v2.0"
[filter.keystone]
use = "keystone_auth"

[app.occi]
# dave's listing shows all his 10,000 servers (the default stops at 1,000).
collection_limit = 20000

[store]
url = "sqlite://{{store}}?mode=rwc"

[urlmap]
"/" = "pipeline"

[log]
level = "warn"
"""


def exit_on_sigterm():
    """SIGTERM (a CI timeout, `kill`) unwinds like an error, so the
    `finally` blocks stop the servers this script started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


def add_gateway_bin(ap, default="the release build, which the simulator always runs"):
    """`--gateway-bin`: another build as the gateway (e.g.
    scripts/build-pgo.sh's) while the simulator stays the release build,
    so two gateway builds meet the same Synnefo."""
    ap.add_argument("--gateway-bin", default=None,
                    help=f"the gateway's snf-occi binary (default: {default}); implies --no-build")


def gateway_bin(a, default=BIN):
    """The gateway binary `--gateway-bin` names (absolute), else `default`;
    a named one is used as it is (`a.no_build` set)."""
    if not a.gateway_bin:
        return default
    a.no_build = True
    return os.path.abspath(a.gateway_bin)


def start(args, cfg, binary=BIN):
    proc = subprocess.Popen([binary, *args, "--config", cfg], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, preexec_fn=raise_nofile)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "listening on" in line or "http://" in line:
            return proc
    proc.kill()
    raise SystemExit(f"{' '.join(args)} did not start")


def wait_http(url, headers=None, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            http(url, headers=headers)
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} never answered")


def http(url, method="GET", body=None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if isinstance(body, (dict, list)):
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def cpu_split(pids):
    """(user, system) CPU seconds of processes `pids`, all their threads
    (live and exited) included: utime and stime of /proc/PID/stat."""
    user = system = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        user += int(fields[11])
        system += int(fields[12])
    return user / CLK_TCK, system / CLK_TCK


def cpu_seconds(pid):
    """utime + stime of one process or of a list of processes."""
    return sum(cpu_split(pid if isinstance(pid, (list, tuple)) else [pid]))


def children(pid):
    """The pids whose parent is `pid` (nginx's workers under its master)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


def ensure_tool(binary, packages, paths=()):
    """The path of `binary`; when it is missing, installs the first of the
    Debian `packages` apt can install (quietly, without starting its
    service: a policy-rc.d is put in place for the install when the
    machine has none). Idempotent: nothing runs when the binary is there."""
    def find():
        return shutil.which(binary) or next((p for p in paths if os.access(p, os.X_OK)), None)

    found = find()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(f"{binary} not found: apt-get install {packages[0]}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = "/usr/sbin/policy-rc.d"
    own_policy = not os.path.exists(policy)
    if own_policy:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\n# benches/load.py: no service starts during its install\nexit 101\n")
        os.chmod(policy, 0o755)
    errors = ""
    try:
        for updated in (False, True):
            if updated:
                subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True,
                               timeout=600)
            for package in packages:
                r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                                    package], env=env, capture_output=True, text=True,
                                   timeout=900)
                if r.returncode == 0 and find():
                    print(f"installed {package} for {binary}", file=sys.stderr)
                    return find()
                errors = r.stderr[-500:]
    finally:
        if own_policy:
            os.remove(policy)
    raise SystemExit(f"could not install {' or '.join(packages)}: {errors}")


def rss_kib(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


LUA = """
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, \\"errors\\": %d, \\"non2xx\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


def wrk(url, headers, connections, duration, script, threads=None, timeout=10):
    threads = threads or min(2, connections)
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
           "--timeout", f"{timeout}s", "--latency", "-s", script]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=duration + 60).stdout
    m = re.search(r"^JSON (.*)$", out, re.M)
    if not m:
        raise SystemExit(f"wrk gave no summary for {url}:\n{out}")
    return json.loads(m.group(1))


def counters_total(sim):
    return json.loads(http(f"{sim}/_sim/counters")[2])["total"]


def calls_per_request(sim, url, headers, n=20):
    http(f"{sim}/_sim/counters", method="DELETE")
    for _ in range(n):
        status, _, _ = http(url, headers=headers)
        if status >= 400:
            raise SystemExit(f"{url} answered {status}")
    return counters_total(sim) / n


def median_p50(url, headers, duration, script):
    """The one-connection run REPEAT times; the run with the median p50."""
    runs = sorted((wrk(url, headers, 1, duration, script) for _ in range(REPEAT)),
                  key=lambda r: r["p50_us"])
    return runs[len(runs) // 2]


def measure(name, url, headers, gw_pid, sim, duration, script, direct_url=None,
            direct_headers=None, sim_pid=None):
    calls = calls_per_request(sim, url, headers) if gw_pid else None
    single = median_p50(url, headers, duration, script)
    # The loaded run REPEAT times, keeping the one with the median CPU per
    # request: this VM's timings vary run to run by a third.
    runs = []
    for _ in range(REPEAT):
        cpu0 = cpu_seconds(gw_pid) if gw_pid else 0.0
        loaded = wrk(url, headers, 16, duration, script)
        cpu = (cpu_seconds(gw_pid) - cpu0) / max(1, loaded["requests"]) if gw_pid else None
        runs.append((cpu or 0.0, cpu, loaded))
    runs.sort(key=lambda r: r[0])
    _, cpu, loaded = runs[len(runs) // 2]
    row = {
        "scenario": name,
        "rps": round(loaded["requests"] / (loaded["duration_us"] / 1e6)),
        "p50_ms": single["p50_us"] / 1000,
        "p99_ms": single["p99_us"] / 1000,
        "cpu_us_per_req": round(cpu * 1e6, 1) if cpu is not None else None,
        "synnefo_calls_per_req": calls,
        "errors": single["errors"] + loaded["errors"] + single["non2xx"] + loaded["non2xx"],
    }
    if direct_url:
        d = median_p50(direct_url, direct_headers, duration, script)
        row["direct_p50_ms"] = d["p50_us"] / 1000
        row["added_p50_ms"] = round(row["p50_ms"] - row["direct_p50_ms"], 3)
        if sim_pid:
            # What one HTTP server answering the same data costs here: the
            # simulator's CPU per direct call, the same 16 connections.
            costs = []
            for _ in range(REPEAT):
                cpu0 = cpu_seconds(sim_pid)
                dl = wrk(direct_url, direct_headers, 16, duration, script)
                costs.append((cpu_seconds(sim_pid) - cpu0) / max(1, dl["requests"]))
            costs.sort()
            row["direct_cpu_us_per_req"] = round(costs[len(costs) // 2] * 1e6, 1)
    return row


def create_delete(gw, sim, headers, gw_pid, n=50):
    body = ("Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"\n"
            "Category: 1; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\n"
            "Category: img-0001; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"\n"
            "X-OCCI-Attribute: occi.core.title=\"bench\"\n").encode()
    h = dict(headers, **{"Content-Type": "text/plain"})
    lat = []
    http(f"{sim}/_sim/counters", method="DELETE")
    cpu0 = cpu_seconds(gw_pid)
    for _ in range(n):
        t0 = time.perf_counter()
        status, hdrs, _ = http(f"{gw}/compute/", method="POST", body=body, headers=h)
        if status != 201:
            raise SystemExit(f"create answered {status}")
        loc = hdrs.get("Location") or hdrs.get("location")
        status, _, _ = http(loc, method="DELETE", headers=headers)
        if status not in (200, 204):
            raise SystemExit(f"delete answered {status}")
        lat.append(time.perf_counter() - t0)
    cpu = (cpu_seconds(gw_pid) - cpu0) / (2 * n)
    lat.sort()
    return {
        "scenario": "POST + DELETE /compute/ (pair)",
        "rps": round(n / sum(lat)),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 3),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 3),
        "cpu_us_per_req": round(cpu * 1e6, 1),
        "synnefo_calls_per_req": counters_total(sim) / (2 * n),
        "errors": 0,
    }


def idle_connections(port, pid, n=5000):
    before = rss_kib(pid, "VmRSS")
    socks = []
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(request)
            socks.append(s)
        for s in socks:
            s.recv(4096)
        time.sleep(1)
        after = rss_kib(pid, "VmRSS")
        alive = sum(1 for s in socks if s.fileno() >= 0)
    finally:
        for s in socks:
            s.close()
    return {"connections": alive, "rss_before_mib": round(before / 1024, 1),
            "rss_held_mib": round(after / 1024, 1)}


NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


def nginx_conf(workdir, port, sim_port, tls=None):
    """An nginx relaying everything to the simulator: one worker, upstream
    keep-alive, no access log, answers buffered in memory only (never
    to temporary files: the 10,000-server listing would otherwise be
    written to disk), no request cap per connection on either side (as
    the gateway has none). `tls`: {"port", "cert", "key", "client_ca"}
    adds a TLS listener (client certificates optional and verified, no
    session cache or tickets: every new connection is a full handshake;
    TLS 1.3 as the gateway speaks it, which nginx 1.22 leaves out by
    default)."""
    ssl = ""
    if tls:
        ssl = f"""
        listen 127.0.0.1:{tls["port"]} ssl;
        ssl_certificate {tls["cert"]};
        ssl_certificate_key {tls["key"]};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;"""
        if tls.get("client_ca"):
            ssl += f"""
        ssl_client_certificate {tls["client_ca"]};
        ssl_verify_client optional;
        ssl_verify_depth 4;"""
    return f"""
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    upstream synnefo {{
        server 127.0.0.1:{sim_port};
        keepalive 32;
        keepalive_requests 100000000;
    }}
    server {{
        listen 127.0.0.1:{port};{ssl}
        location / {{
            proxy_pass http://synnefo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffer_size 64k;
            proxy_buffers 32 64k;
            proxy_busy_buffers_size 128k;
            proxy_max_temp_file_size 0;
        }}
    }}
}}
"""


class Nginx:
    """nginx started in the foreground (`daemon off`), its master our
    child; `pids()` is the master and its worker, whose CPU is summed."""

    def __init__(self, tmp, sim_port, tls=None):
        binary = ensure_tool("nginx", ["nginx-light", "nginx"], NGINX_PATHS)
        self.workdir = os.path.join(tmp, "nginx")
        os.makedirs(self.workdir, exist_ok=True)
        # The worker runs as nobody when nginx starts as root.
        os.chmod(tmp, 0o755)
        os.chmod(self.workdir, 0o755)
        self.port = free_port()
        if tls:
            tls = dict(tls, port=free_port())
            self.tls_port = tls["port"]
        conf = os.path.join(self.workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(self.workdir, self.port, sim_port, tls))
        self.proc = subprocess.Popen([binary, "-c", conf, "-p", self.workdir + "/", "-e",
                                      os.path.join(self.workdir, "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=raise_nofile)
        self.url = f"http://127.0.0.1:{self.port}"

    def pids(self):
        return [self.proc.pid, *children(self.proc.pid)]

    def terminate(self):
        self.proc.terminate()

    def wait(self, timeout=None):
        return self.proc.wait(timeout=timeout)

    def kill(self):
        self.proc.kill()


def start_floor(sim):
    """examples/floor_proxy.rs relaying to `sim`, or None when not built."""
    if not os.path.exists(FLOOR):
        print(f"no {FLOOR}: build it (cargo build --release --example floor_proxy) for"
              " the floor", file=sys.stderr)
        return None, None
    port = free_port()
    env = dict(os.environ)
    if WORKERS:
        env["TOKIO_WORKER_THREADS"] = str(WORKERS)
    proc = subprocess.Popen([FLOOR, f"127.0.0.1:{port}", sim], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, preexec_fn=raise_nofile,
                            env=env)
    proc.stdout.readline()
    return proc, f"http://127.0.0.1:{port}"


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


# wrk as issue 18 ran it: one thread, eight connections.
RATIO_THREADS, RATIO_CONNECTIONS = 1, 8


def cpu_run(url, headers, pids, duration, script, connections=None, threads=None):
    """One wrk run; CPU of `pids` per request (µs, user and kernel apart)."""
    connections = connections or RATIO_CONNECTIONS
    threads = threads or RATIO_THREADS
    u0, s0 = cpu_split(pids)
    r = wrk(url, headers, connections, duration, script, threads, timeout=60)
    # The answers still in flight when wrk stops (a listing takes a
    # while) are finished before the CPU is read again.
    time.sleep(0.3 if connections > 1 else 0.05)
    u1, s1 = cpu_split(pids)
    n = r["requests"]
    if not n or r["errors"] or r["non2xx"]:
        raise SystemExit(f"{url}: {n} answers, {r['errors']} errors, {r['non2xx']} non-2xx")
    return {"cpu_us": (u1 - u0 + s1 - s0) / n * 1e6, "user_us": (u1 - u0) / n * 1e6,
            "sys_us": (s1 - s0) / n * 1e6, "rps": n / (r["duration_us"] / 1e6),
            "requests": n}


def p50_run(url, headers, duration, script):
    r = wrk(url, headers, 1, duration, script, 1)
    if r["errors"] or r["non2xx"]:
        raise SystemExit(f"{url}: {r['errors']} errors, {r['non2xx']} non-2xx answers")
    return r["p50_us"] / 1000


def listing_call(sim, gw, headers):
    """The Synnefo call the gateway makes for `GET /compute/` (read from
    the simulator's counters), as a path nginx can relay."""
    http(f"{sim}/_sim/counters", method="DELETE")
    status, _, body = http(f"{gw}/compute/", headers=headers)
    if status != 200:
        raise SystemExit(f"GET /compute/ answered {status}")
    counters = json.loads(http(f"{sim}/_sim/counters")[2])["counters"]
    calls = [k for k, v in counters.items() if v and k.startswith("GET /compute/")]
    if len(calls) != 1 or "{" in calls[0]:
        raise SystemExit(f"GET /compute/ made {counters}: expected one listing call")
    return calls[0].split(" ", 1)[1], body.count(b"/compute/")


TARGETS = {"show_cpu": 1.5, "added_p50": 2.0, "query_cpu": 1.0, "list_cpu": 2.0}


def ratios(sim, gw, gw_pid, nginx, floor_url, floor_pid, sid, duration, script, rounds):
    """Issue 18's four ratios, `rounds` times; each round measures the
    gateway, nginx and the floor back to back (wrk -t1 -c8 for CPU, -c1
    for p50), and the ratio kept is the median of the rounds' ratios."""
    tok = {"X-Auth-Token": USERS["alice"][1]}
    big = {"X-Auth-Token": USERS["dave"][1]}
    show = f"/compute/v2.0/servers/{sid}"
    list_path, listed = listing_call(sim, gw, big)
    if listed != USERS["dave"][2]:
        raise SystemExit(f"GET /compute/ listed {listed} of {USERS['dave'][2]} servers")
    gw_pids, ng_pids = [gw_pid], nginx.pids()
    fl_pids = [floor_pid] if floor_pid else None
    runs = []
    for i in range(rounds):
        r = {}
        r["gw_show"] = cpu_run(f"{gw}/compute/{sid}", tok, gw_pids, duration, script)
        r["ng_show"] = cpu_run(f"{nginx.url}{show}", tok, ng_pids, duration, script)
        if fl_pids:
            r["fl_show"] = cpu_run(f"{floor_url}{show}", tok, fl_pids, duration, script)
        # The same shows at one connection, what the added p50 pays:
        # each request alone, with caches and predictors gone cold.
        r["gw_show_c1"] = cpu_run(f"{gw}/compute/{sid}", tok, gw_pids, duration, script, 1)
        r["ng_show_c1"] = cpu_run(f"{nginx.url}{show}", tok, ng_pids, duration, script, 1)
        if fl_pids:
            r["fl_show_c1"] = cpu_run(f"{floor_url}{show}", tok, fl_pids, duration, script, 1)
        r["gw_query"] = cpu_run(f"{gw}/-/", tok, gw_pids, duration, script)
        # One connection: the simulator takes about half a second to
        # answer a 10,000-server listing, eight at once would only queue.
        ld = max(duration, 6)
        r["gw_list"] = cpu_run(f"{gw}/compute/", big, gw_pids, ld, script, 1)
        r["ng_list"] = cpu_run(f"{nginx.url}{list_path}", big, ng_pids, ld, script, 1)
        if fl_pids:
            r["fl_list"] = cpu_run(f"{floor_url}{list_path}", big, fl_pids, ld, script, 1)
        # p50s at one connection drift with the machine's load: the four
        # are taken in turns, in one-second slices, and each slice's
        # added p50 is against the simulator's slice just before it.
        targets = [("gw_p50", f"{gw}/compute/{sid}"), ("ng_p50", f"{nginx.url}{show}")]
        if fl_pids:
            targets.append(("fl_p50", f"{floor_url}{show}"))
        slices = {k: [] for k, _ in targets}
        direct = []
        for _ in range(max(3, duration)):
            for key, url in targets:
                d = p50_run(f"{sim}{show}", tok, 1, script)
                direct.append(d)
                slices[key].append(p50_run(url, tok, 1, script) - d)
        r["direct_p50"] = median(direct)
        for key, added_ms in slices.items():
            r[key] = median(added_ms)
        print(f"round {i + 1}/{rounds}: show {r['gw_show']['cpu_us']:.1f} vs nginx"
              f" {r['ng_show']['cpu_us']:.1f} µs", file=sys.stderr)
        runs.append(r)

    def cpu(key, per=1):
        return [r[key]["cpu_us"] / per if key in r else None for r in runs]

    def added(key):
        return [r.get(key) for r in runs]

    def ratio(num, den):
        return median([a / b for a, b in zip(num, den) if a is not None and b])

    ng_show = cpu("ng_show")
    table = [
        {"measure": "CPU µs per GET /compute/<id> (nginx, floor: the same show relayed)",
         "key": "show_cpu", "gateway": cpu("gw_show"), "nginx": ng_show,
         "floor": cpu("fl_show")},
        {"measure": "added p50 ms at concurrency 1 (over the simulator's own p50)",
         "key": "added_p50", "gateway": added("gw_p50"), "nginx": added("ng_p50"),
         "floor": added("fl_p50")},
        {"measure": "CPU µs per GET /-/ (nginx, floor: relaying a show)",
         "key": "query_cpu", "gateway": cpu("gw_query"), "nginx": ng_show,
         "floor": cpu("fl_show")},
        {"measure": f"CPU ns per listed server, {listed:,}-server GET /compute/ (relayed:"
                    f" GET {list_path})",
         "key": "list_cpu", "gateway": cpu("gw_list", listed / 1000),
         "nginx": cpu("ng_list", listed / 1000), "floor": cpu("fl_list", listed / 1000)},
    ]
    for row in table:
        row["ratio"] = ratio(row["gateway"], row["nginx"])
        row["floor_ratio"] = ratio(row["floor"], row["nginx"])
        row["target"] = TARGETS[row["key"]]
        row["rounds"] = {k: row[k] for k in ("gateway", "nginx", "floor")}
        for k in ("gateway", "nginx", "floor"):
            row[k] = median(row[k])
    split = {k: {"user_us": median([r[k]["user_us"] for r in runs if k in r]),
                 "sys_us": median([r[k]["sys_us"] for r in runs if k in r])}
             for k in runs[0] if isinstance(runs[0][k], dict)}
    return {"table": table, "list_path": list_path, "rounds": rounds,
            "workers": WORKERS or "one per core",
            "direct_p50_ms": median([r["direct_p50"] for r in runs]), "cpu_split": split,
            "wrk": f"-t{RATIO_THREADS} -c{RATIO_CONNECTIONS} -d{duration}s (the listing -t1 -c1"
                   f" -d{max(duration, 6)}s; p50: -t1 -c1, {max(3, duration)} one-second"
                   " slices each, in turns with the simulator's own)"}


def fmt(v, digits=1):
    return "" if v is None else f"{v:.{digits}f}"


def print_ratios(res):
    print(f"issue 18 ratios: median of {res['rounds']} round(s), wrk {res['wrk']}; simulator"
          f" p50 {fmt(res['direct_p50_ms'], 3)} ms; gateway and floor worker threads:"
          f" {res['workers']} (nginx: one worker process); gateway binary"
          f" {os.path.relpath(res.get('gateway_bin', BIN), ROOT)}")
    print("| measure | gateway | nginx | hyper floor | gateway / nginx | floor / nginx | target |")
    print("|---|---|---|---|---|---|---|")
    for row in res["table"]:
        d = 3 if row["key"] == "added_p50" else 1
        print(f"| {row['measure']} | {fmt(row['gateway'], d)} | {fmt(row['nginx'], d)} |"
              f" {fmt(row['floor'], d)} | {fmt(row['ratio'], 2)}x | {fmt(row['floor_ratio'], 2)}x |"
              f" <= {row['target']}x |")
    c1 = {k: res["cpu_split"].get(f"{k}_show_c1") for k in ("gw", "ng", "fl")}
    if c1["gw"] and c1["ng"]:
        print("CPU µs per show at concurrency 1 (user / kernel), what the added p50 pays:"
              f" gateway {c1['gw']['user_us']:.1f} / {c1['gw']['sys_us']:.1f}, nginx"
              f" {c1['ng']['user_us']:.1f} / {c1['ng']['sys_us']:.1f}" + (
                  f", floor {c1['fl']['user_us']:.1f} / {c1['fl']['sys_us']:.1f}"
                  if c1["fl"] else ""))
    print("CPU split, µs per request (user / kernel):", ", ".join(
        f"{k} {v['user_us']:.1f}/{v['sys_us']:.1f}" for k, v in res["cpu_split"].items()))


def seed(sim):
    """Servers for every user, volumes and networks for alice."""
    tok = {"X-Auth-Token": USERS["alice"][1]}
    for name, (uuid, _, count) in USERS.items():
        status, _, body = http(f"{sim}/_sim/seed/servers", method="POST",
                               body={"user": uuid, "count": count, "status": "ACTIVE"})
        if status != 201:
            raise SystemExit(f"seeding servers for {name}: {status} {body[:200]}")
    for i in range(20):
        http(f"{sim}/volume/v2.0/volumes", method="POST", headers=tok,
             body={"volume": {"size": 1 + i, "display_name": f"v{i}", "volume_type": "1",
                              "project": PROJECT}})
    for i in range(10):
        http(f"{sim}/network/v2.0/networks", method="POST", headers=tok,
             body={"network": {"name": f"n{i}", "type": "MAC_FILTERED", "project": PROJECT}})


def stop_all(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per measurement; the median CPU per request and p50 are kept")
    ap.add_argument("--ratios-only", action="store_true",
                    help="only issue 18's ratio table (against nginx and the hyper floor)")
    ap.add_argument("--json", default=os.path.join(ROOT, "target", "bench-load.json"))
    ap.add_argument("--workers", type=int, default=1,
                    help="worker threads of the gateway and the hyper floor (nginx runs one"
                         " worker process); 0: the runtime's default, one per core")
    add_gateway_bin(ap)
    a = ap.parse_args()
    exit_on_sigterm()
    global REPEAT, WORKERS
    gw_bin = gateway_bin(a)
    REPEAT = max(1, a.repeat)
    WORKERS = max(0, a.workers)
    ensure_tool("wrk", ["wrk"])
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "snf-occi", "--example",
                        "floor_proxy"], cwd=ROOT, check=True)
    raise_nofile()
    tmp = tempfile.mkdtemp(prefix="snf-occi-bench-")
    sim_port, gw_port = free_port(), free_port()
    sim_cfg, gw_cfg = os.path.join(tmp, "sim.toml"), os.path.join(tmp, "gw.toml")
    with open(sim_cfg, "w") as f:
        f.write(simulator_toml(sim_port))
    sim = f"http://127.0.0.1:{sim_port}"
    gw = f"http://127.0.0.1:{gw_port}"
    with open(gw_cfg, "w") as f:
        f.write(gateway_toml(gw_port, sim).replace("{store}", os.path.join(tmp, "store.db")))
    procs = []
    rows, result = [], {}
    try:
        procs.append(start(["simulator"], sim_cfg))
        wait_http(f"{sim}/_sim/state")
        tok = {"X-Auth-Token": USERS["alice"][1]}
        seed(sim)
        gateway = start(["serve"], gw_cfg, binary=gw_bin)
        procs.append(gateway)
        wait_http(f"{gw}/-/", headers=tok)
        nginx = Nginx(tmp, sim_port)
        procs.append(nginx)
        floor, floor_url = start_floor(sim)
        if floor:
            procs.append(floor)
        script = os.path.join(tmp, "report.lua")
        with open(script, "w") as f:
            f.write(LUA)
        servers = json.loads(http(f"{sim}/compute/v2.0/servers", headers=tok)[2])["servers"]
        sid = servers[0]["id"]
        show = f"/compute/v2.0/servers/{sid}"
        wait_http(f"{nginx.url}{show}", headers=tok)
        if floor:
            wait_http(f"{floor_url}{show}", headers=tok)
        d = a.duration
        sim_pid = procs[0].pid
        res = ratios(sim, gw, gateway.pid, nginx, floor_url, floor and floor.pid, sid, d,
                     script, REPEAT)
        res["gateway_bin"] = gw_bin
        result["ratios"] = res
        if not a.ratios_only:
            json_h = dict(tok, Accept="application/occi+json")
            rows = [
                measure("GET /-/", f"{gw}/-/", tok, gateway.pid, sim, d, script,
                        f"{sim}/compute/v2.0/flavors/detail", tok, sim_pid),
                measure("GET /compute/", f"{gw}/compute/", tok, gateway.pid, sim, d, script,
                        f"{sim}/compute/v2.0/servers", tok, sim_pid),
                measure("GET /compute/<id> text/plain", f"{gw}/compute/{sid}", tok,
                        gateway.pid, sim, d, script, f"{sim}{show}", tok, sim_pid),
                measure("GET /compute/<id> JSON", f"{gw}/compute/{sid}", json_h, gateway.pid,
                        sim, d, script, f"{sim}{show}", tok, sim_pid),
                create_delete(gw, sim, tok, gateway.pid),
                measure("nginx: same show, relayed", f"{nginx.url}{show}", tok, nginx.pids(),
                        sim, d, script, f"{sim}{show}", tok, sim_pid),
            ]
            # The floor: a do-nothing hyper proxy (examples/floor_proxy.rs)
            # relaying the same show, measured the same way.
            if floor:
                rows.append(measure("floor proxy: same show, relayed", f"{floor_url}{show}",
                                    tok, floor.pid, sim, d, script, f"{sim}{show}", tok,
                                    sim_pid))
            # Linearity: the median of three p50s for each size, through the
            # gateway and straight from the simulator (its own answer is most
            # of the time, and it scales on its own).
            scale, scale_direct = {}, {}
            for name in ("carol", "dave"):
                h = {"X-Auth-Token": USERS[name][1]}
                size = USERS[name][2]
                runs = sorted(wrk(f"{gw}/compute/", h, 1, d, script)["p50_us"] for _ in range(3))
                scale[size] = runs[1] / 1000
                runs = sorted(wrk(f"{sim}/compute/v2.0/servers", h, 1, d, script)["p50_us"]
                              for _ in range(3))
                scale_direct[size] = runs[1] / 1000
            idle = idle_connections(gw_port, gateway.pid)
            peak = rss_kib(gateway.pid, "VmHWM") / 1024
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)

    print_ratios(res)
    if not a.ratios_only:
        print()
        cols = ["scenario", "rps", "p50_ms", "p99_ms", "cpu_us_per_req", "synnefo_calls_per_req",
                "direct_p50_ms", "added_p50_ms", "direct_cpu_us_per_req", "errors"]
        print(" | ".join(cols))
        for r in rows:
            print(" | ".join(str(r.get(c, "")) for c in cols))
        ratio = scale[10000] / scale[400] if scale.get(400) else None
        direct_ratio = scale_direct[10000] / scale_direct[400] if scale_direct.get(400) else None
        added = {n: round(scale[n] - scale_direct[n], 3) for n in scale}
        added_ratio = added[10000] / added[400] if added.get(400, 0) > 0 else None
        print(f"GET /compute/ p50 (median of 3): 400 servers {scale[400]} ms, 10000 servers"
              f" {scale[10000]} ms, ratio {ratio:.1f} (target <= 25); the simulator alone"
              f" {scale_direct[400]} -> {scale_direct[10000]} ms, ratio {direct_ratio:.1f}; the"
              f" gateway's added time {added[400]} -> {added[10000]} ms, ratio"
              f" {added_ratio if added_ratio is None else round(added_ratio, 1)}")
        print(f"idle keep-alive: {idle['connections']} connections held, RSS"
              f" {idle['rss_before_mib']} -> {idle['rss_held_mib']} MiB (target < 150)")
        print(f"gateway peak RSS: {peak:.1f} MiB")
        result.update({"rows": rows, "list_scale_p50_ms": scale, "list_scale_ratio": ratio,
                       "list_scale_direct_p50_ms": scale_direct,
                       "list_scale_direct_ratio": direct_ratio,
                       "list_scale_added_ms": added, "list_scale_added_ratio": added_ratio,
                       "idle": idle, "peak_rss_mib": round(peak, 1)})
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"written {a.json}")


if __name__ == "__main__":
    sys.exit(main())
