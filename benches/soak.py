#!/usr/bin/env python3
"""Soak test of the snf-occi gateway: many clients, mixed operations.

Starts the release binary twice, as the Synnefo simulator
(`snf-occi simulator`) and as the gateway (`snf-occi serve`, the default
filters: request_log, timeout, body_limit, occi_negotiate, keystone) in
front of it, so that /proc/<gateway pid> measures the gateway alone. Then
N client threads (default 200), each with one keep-alive connection and a
user (alice or bob), loop for --seconds (default 60) over a mix of

    45% reads    GET /compute/, GET /compute/<own id>, GET /-/
    20% creates  POST /compute/ (text/plain; a delete instead when the
                 client already has 3 computes)
    20% actions  POST /compute/<own id>?action=stop|start
    15% deletes  DELETE /compute/<own id>

and check, at the end:

- no 5xx at all (no fault is injected, so every 5xx would be the
  gateway's own), no transport error;
- no lost resource (a GET of a compute the client created and did not
  delete never answers 404) and no duplicate (no id is handed out twice);
- the simulator's state matches the successful answers: per user, the
  gateway's listing and the simulator's server count equal the computes
  created (201) minus those deleted (200/204);
- the gateway's VmRSS (sampled every second from /proc/<pid>/status) is
  flat after warm-up: the mean of the last quarter of the run is at most
  max(20%, 16 MiB) above the mean of the second quarter (checked for runs
  of 30 s or more; warm-up alone takes about 20 s).

Prints a summary (requests, rate, statuses, latency p50/p99, RSS samples)
and exits 1 if a check fails.

Usage: python3 benches/soak.py [--seconds 60] [--clients 200] [--no-build]
                               [--bin target/debug/snf-occi] [--gateway-bin PATH]
(`--bin` runs another build, e.g. the debug one CI already has, as both;
`--gateway-bin` runs another build as the gateway only, e.g. one built
without the simulator. Either implies --no-build.)
Traffic goes to 127.0.0.1 only; every loop is bounded in time.
"""
import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (process helpers shared with the load benchmark)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "snf-occi")
USERS = {"alice": "alice-token", "bob": "bob-token"}
# Each client keeps at most this many computes (a create beyond is a
# delete), so that the live set, and the listings, reach a steady size.
MAX_OWN = 3
INFRA = "http://schemas.ogf.org/occi/infrastructure#"
ACTIONS = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
CREATE_BODY = (
    f'Category: compute; scheme="{INFRA}"; class="kind"\n'
    'Category: 1; scheme="http://schemas.openstack.org/template/resource#"; class="mixin"\n'
    'Category: 0e5a4c4b-d2a1-4c1d-9d2b-debian000001; '
    'scheme="http://schemas.openstack.org/template/os#"; class="mixin"\n'
    'X-OCCI-Attribute: occi.core.title="soak"\n'
)


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = {}
        self.latencies = []
        self.transport_errors = []
        self.server_errors = []
        self.lost = []
        self.ids = {}  # id -> user
        self.duplicates = []
        self.live = {u: set() for u in USERS}

    def record(self, op, status, latency, body=""):
        with self.lock:
            key = f"{op} {status}"
            self.statuses[key] = self.statuses.get(key, 0) + 1
            self.latencies.append(latency)
            if status >= 500:
                self.server_errors.append(f"{op} {status} {body[:200]}")


class Client(threading.Thread):
    def __init__(self, n, port, stats, stop_at):
        super().__init__(daemon=True)
        self.user = "alice" if n % 2 == 0 else "bob"
        self.token = USERS[self.user]
        self.port = port
        self.stats = stats
        self.stop_at = stop_at
        self.own = []  # ids this client created and has not deleted
        self.rng = random.Random(n)
        self.conn = None

    def request(self, op, method, path, body=None, headers=None):
        h = {"X-Auth-Token": self.token, "Accept": "text/plain"}
        if body is not None:
            h["Content-Type"] = "text/plain"
        h.update(headers or {})
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            started = time.monotonic()
            try:
                self.conn.request(method, path, body=body, headers=h)
                res = self.conn.getresponse()
                data = res.read().decode("utf-8", "replace")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                # A keep-alive connection the server closed between two
                # requests: reconnect once, but only for a request that can
                # be repeated (a POST might have been acted on).
                self.conn.close()
                self.conn = None
                if attempt == 1 and method == "GET":
                    continue
                with self.stats.lock:
                    self.stats.transport_errors.append(f"{op}: {e!r}")
                return None, "", {}
            except Exception as e:  # noqa: BLE001 - anything else is a failure too
                self.conn.close()
                self.conn = None
                with self.stats.lock:
                    self.stats.transport_errors.append(f"{op}: {e!r}")
                return None, "", {}
            self.stats.record(op, res.status, time.monotonic() - started, data)
            return res.status, data, dict(res.getheaders())
        return None, "", {}

    def create(self):
        status, _, headers = self.request("create", "POST", "/compute/", CREATE_BODY)
        if status == 201:
            location = headers.get("Location") or headers.get("location", "")
            sid = location.rsplit("/", 1)[-1]
            with self.stats.lock:
                if sid in self.stats.ids:
                    self.stats.duplicates.append(sid)
                self.stats.ids[sid] = self.user
                self.stats.live[self.user].add(sid)
            self.own.append(sid)

    def delete(self):
        sid = self.own.pop(self.rng.randrange(len(self.own)))
        status, body, _ = self.request("delete", "DELETE", f"/compute/{sid}")
        if status in (200, 204):
            with self.stats.lock:
                self.stats.live[self.user].discard(sid)
        elif status == 404:
            with self.stats.lock:
                self.stats.lost.append(f"delete {sid}: 404 {body[:120]}")
                self.stats.live[self.user].discard(sid)
        else:
            self.own.append(sid)

    def action(self):
        sid = self.rng.choice(self.own)
        term = self.rng.choice(["stop", "start"])
        body = f'Category: {term}; scheme="{ACTIONS}"; class="action"\n'
        status, text, _ = self.request("action", "POST", f"/compute/{sid}?action={term}", body)
        if status == 404:
            with self.stats.lock:
                self.stats.lost.append(f"action {sid}: 404 {text[:120]}")

    def read(self):
        choice = self.rng.random()
        if self.own and choice < 0.5:
            sid = self.rng.choice(self.own)
            status, text, _ = self.request("show", "GET", f"/compute/{sid}")
            if status == 404:
                with self.stats.lock:
                    self.stats.lost.append(f"show {sid}: 404 {text[:120]}")
        elif choice < 0.9:
            self.request("list", "GET", "/compute/")
        else:
            self.request("query", "GET", "/-/")

    def run(self):
        while time.monotonic() < self.stop_at:
            r = self.rng.random()
            if r < 0.45 or (not self.own and r >= 0.65):
                self.read()
            elif r < 0.65 and len(self.own) >= MAX_OWN:
                self.delete()
            elif r < 0.65:
                self.create()
            elif r < 0.85:
                self.action()
            else:
                self.delete()
        if self.conn is not None:
            self.conn.close()


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--bin", default=None, help="the snf-occi binary (default: release)")
    load.add_gateway_bin(parser, default="--bin's")
    args = parser.parse_args()

    binary = args.bin or BIN
    gateway_bin = load.gateway_bin(args, binary)
    if not args.no_build and args.bin is None:
        subprocess.run(["cargo", "build", "--release", "--bin", "snf-occi"], cwd=ROOT, check=True)
    load.raise_nofile()
    tmp = tempfile.mkdtemp(prefix="snf-occi-soak-")
    sim_port, gw_port = load.free_port(), load.free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    sim_cfg = os.path.join(tmp, "sim.toml")
    with open(sim_cfg, "w") as f:
        f.write(f'[simulator]\nlisten = "127.0.0.1:{sim_port}"\n'
                'build_delay = "0s"\naction_delay = "0s"\n')
    gw_cfg = os.path.join(tmp, "gateway.toml")
    with open(gw_cfg, "w") as f:
        f.write(f"""
[server]
listen = "127.0.0.1:{gw_port}"
public_url = "http://127.0.0.1:{gw_port}"
[pipeline]
filters = ["request_log", "timeout", "body_limit", "occi_negotiate", "keystone"]
app = "occi"
[filter.timeout]
timeout = "60s"
[filter.body_limit]
max_bytes = 1048576
[synnefo]
identity_url = "{sim_url}/identity/v2.0"
[filter.keystone]
use = "keystone_auth"
[app.occi]
[store]
url = "sqlite://{tmp}/store.db?mode=rwc"
[log]
level = "warn"
""")
    sim = load.start(["simulator"], sim_cfg, binary)
    gw = load.start(["serve"], gw_cfg, gateway_bin)
    failures = []
    try:
        stats = Stats()
        cpu0 = {"gateway": load.cpu_seconds(gw.pid), "simulator": load.cpu_seconds(sim.pid)}
        self_cpu0 = time.process_time()
        started = time.monotonic()
        stop_at = started + args.seconds
        clients = [Client(n, gw_port, stats, stop_at) for n in range(args.clients)]
        for c in clients:
            c.start()
        rss = []
        while time.monotonic() < stop_at:
            rss.append((round(time.monotonic() - started, 1), load.rss_kib(gw.pid)))
            time.sleep(1)
        for c in clients:
            c.join(timeout=120)
            if c.is_alive():
                failures.append("a client hung past the end of the run")
        elapsed = time.monotonic() - started
        cpu = {"gateway": round(load.cpu_seconds(gw.pid) - cpu0["gateway"], 1),
               "simulator": round(load.cpu_seconds(sim.pid) - cpu0["simulator"], 1),
               "clients": round(time.process_time() - self_cpu0, 1)}

        # The simulator's state against the successful answers.
        state = get_json(f"{sim_url}/_sim/state")
        expected_live = sum(len(s) for s in stats.live.values())
        if state["servers"] != expected_live:
            failures.append(f"simulator has {state['servers']} servers, the answers say {expected_live}")
        for user, token in USERS.items():
            conn = http.client.HTTPConnection("127.0.0.1", gw_port, timeout=60)
            conn.request("GET", "/compute/", headers={"X-Auth-Token": token, "Accept": "text/uri-list"})
            res = conn.getresponse()
            listed = {line.rsplit("/", 1)[-1] for line in res.read().decode().split() if "/compute/" in line}
            conn.close()
            if listed != stats.live[user]:
                failures.append(
                    f"{user}: listed {len(listed)}, expected {len(stats.live[user])}; "
                    f"missing {sorted(stats.live[user] - listed)[:5]}, extra {sorted(listed - stats.live[user])[:5]}")
        if stats.server_errors:
            failures.append(f"{len(stats.server_errors)} 5xx answers, e.g. {stats.server_errors[:3]}")
        if stats.transport_errors:
            failures.append(f"{len(stats.transport_errors)} transport errors, e.g. {stats.transport_errors[:3]}")
        if stats.lost:
            failures.append(f"{len(stats.lost)} lost resources, e.g. {stats.lost[:3]}")
        if stats.duplicates:
            failures.append(f"duplicate ids: {stats.duplicates[:5]}")

        # Memory: second quarter (after warm-up) against the last quarter.
        values = [v for _, v in rss]
        q = max(1, len(values) // 4)
        warm = sum(values[q:2 * q]) / len(values[q:2 * q]) if len(values) >= 2 * q else values[0]
        last = sum(values[-q:]) / len(values[-q:])
        allowed = max(warm * 0.20, 16 * 1024)
        # Warm-up (every client connected, the live set at its steady
        # size) takes about 20 s: shorter runs report RSS, unchecked.
        if args.seconds >= 30 and last - warm > allowed:
            failures.append(f"RSS grew from {warm / 1024:.1f} MiB to {last / 1024:.1f} MiB after warm-up")

        total = len(stats.latencies)
        summary = {
            "seconds": round(elapsed, 1),
            "clients": args.clients,
            "requests": total,
            "requests_per_second": round(total / elapsed, 1),
            "latency_ms": {"p50": round(percentile(stats.latencies, 50) * 1000, 1),
                           "p99": round(percentile(stats.latencies, 99) * 1000, 1),
                           "max": round(max(stats.latencies, default=0) * 1000, 1)},
            "statuses": dict(sorted(stats.statuses.items())),
            "cpu_seconds": cpu,
            "created": len(stats.ids),
            "live_at_end": expected_live,
            "simulator_servers": state["servers"],
            "rss_mib": {"start": round(values[0] / 1024, 1), "after_warmup": round(warm / 1024, 1),
                        "last_quarter": round(last / 1024, 1), "max": round(max(values) / 1024, 1)},
            "rss_samples_kib": rss,
        }
        print(json.dumps(summary, indent=1))
    finally:
        for proc in (gw, sim):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    if failures:
        print("SOAK FAILED:\n- " + "\n- ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("soak passed", file=sys.stderr)


if __name__ == "__main__":
    main()
