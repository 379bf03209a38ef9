#!/usr/bin/env python3
"""Helpers for runs of client suites (pOCCI, IM) against a real Synnefo.

  cloud_account.py uuid IDENTITY_URL TOKEN
      the user's UUID (Astakos POST /tokens)
  cloud_account.py templates GATEWAY_URL TOKEN
      two lines, "TERM SCHEME": the smallest resource template (fewest
      cores, then memory, then disk; the first listed of equals) and the
      first OS template, as the gateway's /-/ names them
  cloud_account.py wait GATEWAY_URL TOKEN PATH ATTRIBUTE VALUE
      polls PATH (JSON) until ATTRIBUTE is VALUE (at most 120 s)
  cloud_account.py sweep IDENTITY_URL TOKEN
      deletes every server, floating IP, volume and private network of the
      user straight through Synnefo's API, and waits until they are gone:
      a real account is shared between runs, and pOCCI leaves what it
      creates behind

Only the standard library; tokens never printed.
"""
import json
import sys
import time
import urllib.error
import urllib.request


def call(method, url, token=None, body=None, accept="application/json"):
    headers = {"Accept": accept}
    if token:
        headers["X-Auth-Token"] = token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw.strip() else None
    except urllib.error.HTTPError as e:
        return e.code, None


def access(identity_url, token):
    status, body = call("POST", identity_url.rstrip("/") + "/tokens", None,
                        {"auth": {"token": {"id": token}}})
    if status != 200:
        sys.exit("cloud_account: the token was refused (%d)" % status)
    return body["access"]


def endpoints(access_):
    """Service URLs as Synnefo's clients build them (versioned)."""
    out = {}
    for service in access_["serviceCatalog"]:
        for e in service["endpoints"]:
            url = e["publicURL"].rstrip("/")
            expose = str(e.get("SNF:exposeVersion", True)).lower() != "false"
            if not expose and e.get("versionId"):
                url += "/" + e["versionId"]
            out.setdefault(service["type"], url)
    return out


def templates(gateway, token):
    _, q = call("GET", gateway + "/-/", token, accept="application/occi+json")
    infra = "http://schemas.ogf.org/occi/infrastructure#"

    def of(kind):
        return [m for m in q["mixins"] if infra + kind in m.get("depends", [])]

    def size(m):
        a = m.get("attributes", {})
        return tuple(a.get(k, {}).get("default", 1e18) for k in
                     ("occi.compute.cores", "occi.compute.memory",
                      "eu.egi.fedcloud.flavor.disk"))

    flavor = min(of("resource_tpl"), key=size)
    image = of("os_tpl")[0]
    for m in (flavor, image):
        print(m["term"], m["scheme"])


def wait(gateway, token, path, attribute, value):
    deadline = time.time() + 120
    while time.time() < deadline:
        status, body = call("GET", gateway + path, token,
                            accept="application/occi+json")
        if status == 200 and str(body["attributes"].get(attribute)) == value:
            return
        time.sleep(0.5)
    sys.exit("cloud_account: %s never had %s=%s" % (path, attribute, value))


def sweep(identity_url, token):
    urls = endpoints(access(identity_url, token))
    compute, network, volume = urls["compute"], urls["network"], urls["volume"]
    deadline = time.time() + 180
    while time.time() < deadline:
        left = 0
        # Again each round: a server still being built refuses its delete.
        _, servers = call("GET", compute + "/servers/detail", token)
        for s in servers["servers"]:
            left += 1
            if s.get("SNF:task_state") != "DESTROYING":
                call("DELETE", "%s/servers/%s" % (compute, s["id"]), token)
        _, ips = call("GET", network + "/floatingips", token)
        for ip in ips["floatingips"]:
            left += 1
            call("DELETE", "%s/floatingips/%s" % (network, ip["id"]), token)
        _, vols = call("GET", volume + "/volumes/detail", token)
        for v in vols["volumes"]:
            if v.get("status", "").lower() not in ("deleted",):
                left += 1
                if v.get("status", "").lower() != "deleting":
                    call("DELETE", "%s/volumes/%s" % (volume, v["id"]), token)
        _, nets = call("GET", network + "/networks", token)
        for n in nets["networks"]:
            if not n.get("public") and n.get("status") != "DELETED":
                left += 1
                call("DELETE", "%s/networks/%s" % (network, n["id"]), token)
        if not left:
            return
        time.sleep(1)
    sys.exit("cloud_account: the account could not be emptied in time")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "uuid" and len(args) == 2:
        print(access(*args)["user"]["id"])
    elif cmd == "templates" and len(args) == 2:
        templates(*args)
    elif cmd == "wait" and len(args) == 5:
        wait(*args)
    elif cmd == "sweep" and len(args) == 2:
        sweep(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
