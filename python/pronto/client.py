"""pronto.Client: the HTTP API of ``pronto serve`` (docs/api.md) with the
standard library's urllib (no other dependency, no library needed).

Every call has a timeout (``timeout`` seconds for connecting and for each
read). Connection failures (refused, reset, timed out) and answers 503
(overloaded, draining, queues full: the server says to come back) are
retried ``retries`` times with exponential backoff (``backoff``, doubled
each time, at most ``max_backoff``; a 503's ``Retry-After`` is honoured up
to that cap). Other answers are not retried: a 4xx will not change.

Errors: ``HTTPError`` (an answer other than 2xx) carries ``status`` and the
server's JSON ``{"error": ...}`` message as ``message`` (and ``str(e)``);
``ConnectionFailed`` says that no answer came after the retries. Both are
``ClientError``, a ``pronto.Error``.

Retrying a POST is safe for this API: ``/v1/events`` drops events whose
``event_id`` it has seen (the server's duplicate window), and a predict
has no effect but its answer (with ``--log``, a retried request is logged
twice under its ``request_id``).
"""

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from ._lib import Error


class ClientError(Error):
    """A failed call to a pronto server."""


class HTTPError(ClientError):
    """The server answered with an error status (``status``); ``message``
    is its JSON ``error`` text (or the body, if not JSON); ``body`` the
    parsed JSON, if any."""

    def __init__(self, status, message, body=None, url=None):
        super().__init__("HTTP %d from %s: %s" % (status, url, message), "HTTP %d" % status)
        self.status = status
        self.message = message
        self.body = body
        self.url = url


class ConnectionFailed(ClientError):
    """No answer from the server after the retries (refused, reset, timed
    out); ``attempts`` were made."""

    def __init__(self, message, attempts):
        super().__init__(message, "connection")
        self.attempts = attempts


class Client:
    """A client of one pronto server.

    url: ``http://host:port`` (a path prefix is kept). timeout: seconds.
    retries: extra attempts after a connection failure or a 503. token:
    the admin bearer token, sent with every call when given (``/admin/*``,
    the full ``/v1/model``)."""

    def __init__(self, url, timeout=5.0, retries=3, backoff=0.05, max_backoff=2.0,
                 token=None):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("url: expected http://HOST:PORT, got %r" % url)
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.token = token
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # ------------------------------------------------------------ routes

    def predict(self, candidates, user_id=None, context=None, top_k=None,
                request_id=None, ts=None, **columns):
        """POST /v1/predict: ranks candidates (a list of dicts, each with the
        candidate key, e.g. ``{"ad_id": 7}``) for a user and context.
        Other request columns may be given as keywords. Returns the JSON
        answer (``predictions`` sorted by ``p``, ``model_version``,
        ``request_id``...)."""
        body = dict(columns)
        body["candidates"] = list(candidates)
        for k, v in (("user_id", user_id), ("context", context), ("top_k", top_k),
                     ("request_id", request_id), ("ts", ts)):
            if v is not None:
                body[k] = v
        return self._call("POST", "/v1/predict", json.dumps(body).encode())

    def events(self, events):
        """POST /v1/events: a list of event dicts (impressions, clicks,
        conversions: docs/events.md), or JSON-lines text. Returns the
        counts (``applied``, ``duplicates``, ``rejected``, ``errors``...).
        A batch with some bad events is a 200 naming them in ``errors``."""
        if isinstance(events, (str, bytes)):
            data = events.encode() if isinstance(events, str) else events
        else:
            data = json.dumps(list(events)).encode()
        return self._call("POST", "/v1/events", data)

    def model(self):
        """GET /v1/model: what is served (kind, version, fingerprint...;
        ``path`` and ``info`` too with the admin token)."""
        return self._call("GET", "/v1/model")

    def monitor(self):
        """GET /v1/monitor: drift, alerts and live quality per arm."""
        return self._call("GET", "/v1/monitor")

    def health(self):
        """GET /healthz."""
        return self._call("GET", "/healthz")

    def ready(self):
        """GET /readyz: the JSON answer, 200 or 503 alike (no retry: a 503
        here is an answer, ``{"ready": false, "reason": ...}``)."""
        try:
            return self._call("GET", "/readyz", retry_503=False)
        except HTTPError as e:
            if e.status == 503 and isinstance(e.body, dict):
                return e.body
            raise

    def reload(self):
        """POST /admin/reload (needs the token)."""
        return self._call("POST", "/admin/reload", b"")

    # ------------------------------------------------------------ transport

    def _call(self, method, path, data=None, retry_503=True):
        url = self.url + path
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        delay = self.backoff
        attempts = 0
        while True:
            attempts += 1
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            wait = None
            try:
                with self._opener.open(req, timeout=self.timeout) as resp:
                    raw = resp.read()
                return json.loads(raw.decode("utf-8")) if raw else None
            except urllib.error.HTTPError as e:
                raw = e.read()
                e.close()
                body, message = None, raw.decode("utf-8", "replace").strip()
                try:
                    body = json.loads(raw.decode("utf-8"))
                    if isinstance(body, dict) and isinstance(body.get("error"), str):
                        message = body["error"]
                except ValueError:
                    pass
                err = HTTPError(e.code, message or e.reason, body, url)
                if e.code != 503 or not retry_503 or attempts > self.retries:
                    raise err from None
                after = e.headers.get("Retry-After") if e.headers else None
                if after and after.strip().isdigit():
                    wait = min(float(after), self.max_backoff)
            except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as e:
                reason = getattr(e, "reason", e)
                if attempts > self.retries:
                    raise ConnectionFailed("%s %s: no answer after %d attempts: %s"
                                           % (method, url, attempts, reason), attempts) from None
            time.sleep(wait if wait is not None else delay)
            delay = min(delay * 2, self.max_backoff)
