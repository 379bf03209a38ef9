#!/usr/bin/env python3
"""What oversized Synnefo answers cost the gateway in memory.

A stand-in Synnefo (this script, on loopback) answers identity as Astakos
does and every compute call with a large body; the gateway (the release
binary, keystone auth, in front of it) is sent concurrent requests, and
its VmRSS (from /proc) is sampled before, at the peak, and after an idle
pause. Two rounds:

- shows: 8 concurrent `GET /compute/1`, each answered with --show-mib of
  JSON (an entity's answer may hold at most 4 MiB: each is refused after
  4 MiB, 502, and the rest is never read);
- listings: 8 concurrent `GET /compute/` (JSON), each answered with a
  listing of --list-mib (below the 64 MiB a listing may hold; all eight
  together above the 256 MiB the answers in flight may hold: those past
  it get 503 at once).

Prints the statuses and the RSS figures (MiB) of each round. Nothing is
asserted: the figures go to benches/README.md.

Usage: python3 benches/big_answers.py [--no-build] [--bin PATH]
                                      [--show-mib 200] [--list-mib 60]
"""
import argparse
import http.client
import http.server
import json
import os
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (process helpers shared with the load benchmark)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "big-token"


def stand_in(port_holder, show_bytes, list_bytes):
    """A threaded HTTP server: Astakos' POST /identity/v2.0/tokens, and
    big compute answers."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_body(self, status, chunks, length):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            try:
                for chunk in chunks:
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_POST(self):
            base = "http://127.0.0.1:%d" % port_holder[0]
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            access = {"access": {
                "token": {"id": TOKEN, "expires": "2099-01-01T00:00:00+00:00",
                          "tenant": {"id": "u1", "name": "big"}},
                "user": {"id": "u1", "name": "big", "projects": ["u1"]},
                "serviceCatalog": [
                    {"type": "compute", "name": "cyclades_compute",
                     "endpoints": [{"publicURL": base + "/compute/v2.0",
                                    "versionId": "v2.0"}]},
                ]}}
            body = json.dumps(access).encode()
            self.send_body(200, [body], len(body))

        def do_GET(self):
            if self.path.startswith("/compute/v2.0/servers/detail"):
                # A listing of `list_bytes`: padded server entries.
                one = json.dumps({"id": 1, "name": "x" * 1900, "status": "ACTIVE"}).encode()
                count = max(1, list_bytes // (len(one) + 1))
                head, tail = b'{"servers": [', b"]}"
                length = len(head) + count * len(one) + (count - 1) + len(tail)

                def chunks():
                    yield head
                    for i in range(count):
                        yield one if i == 0 else b"," + one
                    yield tail
                self.send_body(200, chunks(), length)
            elif self.path.startswith("/compute/v2.0/flavors/detail"):
                body = json.dumps({"flavors": [{"id": 1, "name": "C1R1024D20", "vcpus": 1,
                                                "ram": 1024, "disk": 20,
                                                "SNF:disk_template": "drbd"}]}).encode()
                self.send_body(200, [body], len(body))
            elif self.path.startswith("/compute/v2.0/servers/"):
                pad = b"x" * (1024 * 1024)
                head = b'{"server": {"id": 1, "name": "'
                tail = b'", "status": "ACTIVE"}}'
                count = max(1, show_bytes // len(pad))
                length = len(head) + count * len(pad) + len(tail)
                self.send_body(200, [head] + [pad] * count + [tail], length)
            else:
                body = b'{"itemNotFound": {"code": 404, "message": "x"}}'
                self.send_body(404, [body], len(body))

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    port_holder[0] = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def round_of(port, pid, path, accept, clients=8):
    statuses = []
    peak = [rss_mib(pid)]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib(pid))
            time.sleep(0.01)

    def one():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("GET", path, headers={"X-Auth-Token": TOKEN, "Accept": accept})
        r = c.getresponse()
        r.read()
        statuses.append(r.status)
        c.close()

    before = rss_mib(pid)
    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    sampler.join()
    time.sleep(2)
    after = rss_mib(pid)
    return sorted(statuses), before, peak[0], after


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "snf-occi"))
    ap.add_argument("--show-mib", type=int, default=200)
    ap.add_argument("--list-mib", type=int, default=60)
    a = ap.parse_args()
    if not a.no_build and a.bin.endswith(os.path.join("release", "snf-occi")):
        subprocess.run(["cargo", "build", "--release", "--bin", "snf-occi"], cwd=ROOT, check=True)
    holder = [0]
    stand = stand_in(holder, a.show_mib * 1024 * 1024, a.list_mib * 1024 * 1024)
    port = load.free_port()
    identity = "http://127.0.0.1:%d/identity/v2.0" % holder[0]
    with tempfile.TemporaryDirectory() as work:
        config = os.path.join(work, "big.toml")
        with open(config, "w") as f:
            f.write('''[server]
listen = "127.0.0.1:%d"
public_url = "http://127.0.0.1:%d"
[pipeline]
filters = ["occi_negotiate", "keystone"]
app = "occi"
[synnefo]
identity_url = "%s"
timeout = "120s"
[filter.keystone]
use = "keystone_auth"
[app.occi]
[store]
url = "sqlite::memory:"
[log]
level = "warn"
''' % (port, port, identity))
        gateway = subprocess.Popen([a.bin, "serve", "--config", config],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            load.wait_http("http://127.0.0.1:%d/-/" % port, headers={"X-Auth-Token": TOKEN})
            # Warm: the token is validated and cached.
            round_of(port, gateway.pid, "/-/", "text/plain", clients=1)
            for name, path, accept in [("shows", "/compute/1", "text/plain"),
                                       ("listings", "/compute/", "application/occi+json")]:
                statuses, before, peak, after = round_of(port, gateway.pid, path, accept)
                counts = {s: statuses.count(s) for s in set(statuses)}
                print("%-8s statuses %s  RSS MiB: before %.1f, peak %.1f, 2 s after %.1f"
                      % (name, counts, before, peak, after))
        finally:
            gateway.terminate()
            gateway.wait(timeout=10)
            stand.shutdown()


if __name__ == "__main__":
    main()
