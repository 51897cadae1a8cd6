"""pronto.Client against a real `pronto serve` on loopback (a model trained
on simulated data, the store filled from it): predict, events (with the
server's duplicate detection), model, monitor, health; the server's JSON
error messages in HTTPError; ConnectionFailed after retries on a closed
port; and, against a small local HTTP server that answers 503 or nothing,
the retry-with-backoff and timeout paths (a real pronto serve cannot be
made to answer 503 on demand)."""

import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

import pronto
from conftest import BIN, SRC, run


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve")
    run("simulate", "-o", d / "sim", "--duration", "30m", "--users", 300, "--ads", 60,
        "--advertisers", 20, "--sites", 40, "--imp-rate", 3, "--quiet")
    spec = d / "spec.yaml"
    with open(os.path.join(SRC, "specs", "sim-store.yaml")) as f:
        spec.write_text(re.sub(r"(?m)^hash_bits: 20", "hash_bits: 14", f.read()))
    run("build-dataset", "--spec", spec, "--data", d / "sim", "-o", d / "train.pcache")
    run("train", "--dataset", "--spec", spec, "-q", "-o", d / "lr.pm", d / "train.pcache")
    (d / "token").write_text("sekrit\n")
    out = open(d / "serve.out", "w+")
    err = open(d / "serve.err", "w")
    proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--model", str(d / "lr.pm"),
                             "--store", "mem:", "--data", str(d / "sim"), "--threads", "2",
                             "--admin-token-file", str(d / "token")], stdout=out, stderr=err)
    port = None
    for _ in range(300):
        out.seek(0)
        m = re.search(r"^pronto serve: listening on port (\d+)$", out.read(), re.M)
        if m:
            port = int(m.group(1))
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    try:
        assert port, open(d / "serve.err").read()
        yield {"url": "http://127.0.0.1:%d" % port, "token": "sekrit", "dir": d}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()
        err.close()


REQ = dict(user_id=17, context={"site_id": 3, "device": "mobile", "position": 1},
           ts=1704069060000)


def test_predict(server):
    c = pronto.Client(server["url"])
    assert c.health() == {"status": "ok"}
    a = c.predict([{"ad_id": 1}, {"ad_id": 2}, {"ad_id": "3"}, {"ad_id": 999999}], top_k=3,
                  request_id="py-1", **REQ)
    assert a["request_id"] == "py-1"
    ps = [x["p"] for x in a["predictions"]]
    assert len(ps) == 3 and ps == sorted(ps, reverse=True) and all(0 < p < 1 for p in ps)
    assert a["model_version"] == c.model()["version"]
    # the same request through curl: the same ranking and probabilities
    body = json.dumps(dict(REQ, candidates=[{"ad_id": 1}, {"ad_id": 2}, {"ad_id": "3"},
                                            {"ad_id": 999999}], top_k=3, request_id="py-1"))
    raw = subprocess.run(["curl", "-s", "-XPOST", server["url"] + "/v1/predict", "-d", body],
                         stdout=subprocess.PIPE, check=True).stdout
    assert json.loads(raw)["predictions"] == a["predictions"]


def test_errors_carry_the_servers_message(server):
    c = pronto.Client(server["url"])
    with pytest.raises(pronto.HTTPError) as e:
        c.predict([], **REQ)
    assert e.value.status == 400 and "candidates" in e.value.message
    assert e.value.message in str(e.value) and isinstance(e.value, pronto.Error)
    with pytest.raises(pronto.HTTPError) as e:
        c.predict([{"ad_id": 1}], user_id=[1, 2])
    assert e.value.status == 400 and "'user_id'" in e.value.message
    with pytest.raises(pronto.HTTPError) as e:
        c.reload()  # no token
    assert e.value.status == 401 and e.value.body and "error" in e.value.body
    assert "path" not in c.model()
    admin = pronto.Client(server["url"], token=server["token"])
    assert admin.model()["path"].endswith("lr.pm")
    assert admin.reload()["reloaded"] is True


def test_events(server):
    c = pronto.Client(server["url"])
    now = int(time.time() * 1000)
    evs = [{"type": "impression", "event_id": 880001, "impression_id": 880001, "ts": now,
            "user_id": 42, "ad_id": 7, "site_id": 3, "device": "mobile", "position": 1},
           {"type": "click", "event_id": 880002, "impression_id": 880001, "ts": now + 1000,
            "user_id": 42, "ad_id": 7}]
    r = c.events(evs)
    assert r["applied"] == 2 and r["rejected"] == 0
    r = c.events("".join(json.dumps(e) + "\n" for e in evs))  # JSON lines, retried
    assert r["applied"] == 0 and r["duplicates"] == 2
    r = c.events([dict(evs[0], event_id=880003), {"type": "click", "ts": now}])
    assert r["applied"] == 1 and r["rejected"] == 1 and "event_id" in r["errors"][0]
    with pytest.raises(pronto.HTTPError) as e:
        c.events([{"type": "click", "ts": now}])
    assert e.value.status == 400 and e.value.body["rejected"] == 1


def test_monitor(server):
    m = pronto.Client(server["url"]).monitor()
    assert m["monitor"] == "on" and isinstance(m["arms"], list)
    r = pronto.Client(server["url"]).ready()
    assert r["ready"] is True


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connection_refused():
    port = _free_port()
    c = pronto.Client("http://127.0.0.1:%d" % port, retries=2, backoff=0.01)
    t0 = time.monotonic()
    with pytest.raises(pronto.ConnectionFailed) as e:
        c.health()
    assert e.value.attempts == 3 and "no answer after 3 attempts" in str(e.value)
    assert time.monotonic() - t0 < 2
    with pytest.raises(ValueError, match="http://"):
        pronto.Client("localhost:8080")


class _Flaky(http.server.BaseHTTPRequestHandler):
    """503 (with Retry-After: 0) for the first `fail` requests, then 200;
    a path /slow never answers within the client's timeout."""
    fail = 2
    seen = 0

    def do_GET(self):
        type(self).seen += 1
        if self.path == "/slow":
            time.sleep(1.0)
        if type(self).seen <= type(self).fail:
            body = b'{"error":"overloaded: try again"}'
            self.send_response(503)
            self.send_header("Retry-After", "0")
        else:
            body = b'{"status":"ok"}'
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def flaky():
    _Flaky.seen = 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_retries_503(flaky):
    assert pronto.Client(flaky, retries=3, backoff=0.01).health() == {"status": "ok"}
    assert _Flaky.seen == 3
    _Flaky.seen = 0
    with pytest.raises(pronto.HTTPError) as e:
        pronto.Client(flaky, retries=1, backoff=0.01).health()
    assert e.value.status == 503 and e.value.message == "overloaded: try again"
    assert _Flaky.seen == 2


def test_timeout(flaky):
    _Flaky.fail = 0
    try:
        c = pronto.Client(flaky, timeout=0.2, retries=1, backoff=0.01)
        t0 = time.monotonic()
        with pytest.raises(pronto.ConnectionFailed, match="timed out"):
            c._call("GET", "/slow")
        assert time.monotonic() - t0 < 1.5
    finally:
        _Flaky.fail = 2
