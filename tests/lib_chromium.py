# lib_chromium.py CHROMIUM OUTDIR NAME=URL[@shot]...: loads each URL in
# turn in one headless Chromium driven over the DevTools protocol
# (--remote-debugging-pipe: JSON messages ended by NUL, Chromium reads fd 3
# and writes fd 4), for the command-line tests. Per page, once it has
# loaded: 8 s of its own time (virtual time, paused while a fetch is
# pending, so a page polling every 5 s polls twice and the run takes what
# the fetches take), then
#   OUTDIR/NAME.console  one line per console message ("console.TYPE: ..."),
#                        uncaught exception ("exception: ...") and log
#                        entry ("log.LEVEL: ...": CSP refusals, failed
#                        loads); empty: none
#   OUTDIR/NAME.dom      document.documentElement.outerHTML
#   OUTDIR/NAME.png      with @shot: a screenshot of 1100x1500 CSS pixels
#                        at scale 0.5
# Chromium's own log goes to OUTDIR/chromium.log. Exits non-zero when
# Chromium fails or takes over 100 s in all.
import base64, json, os, select, subprocess, sys, time

chromium, out, pages = sys.argv[1], sys.argv[2], sys.argv[3:]
to_r, to_w = os.pipe()
from_r, from_w = os.pipe()


def child():
    os.dup2(to_r, 3)
    os.dup2(from_w, 4)
    os.set_inheritable(3, True)  # dup2 onto itself keeps close-on-exec
    os.set_inheritable(4, True)


proc = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                         "--user-data-dir=" + out + "/chromium-profile",
                         "--remote-debugging-pipe", "about:blank"],
                        preexec_fn=child, close_fds=False, stdout=subprocess.DEVNULL,
                        stderr=open(out + "/chromium.log", "w"))
os.close(to_r)
os.close(from_w)
buf, seq, events, deadline = b"", 0, [], time.time() + 100


def recv():
    global buf
    while b"\0" not in buf:
        if not select.select([from_r], [], [], max(0, deadline - time.time()))[0]:
            proc.kill()
            sys.exit("chromium: no answer in time")
        chunk = os.read(from_r, 1 << 16)
        if not chunk:
            sys.exit("chromium closed the pipe (see chromium.log)")
        buf += chunk
    msg, buf = buf.split(b"\0", 1)
    return json.loads(msg)


def send(method, params=None, session=None):
    global seq
    seq += 1
    m = {"id": seq, "method": method, "params": params or {}}
    if session:
        m["sessionId"] = session
    os.write(to_w, json.dumps(m).encode() + b"\0")
    while True:
        r = recv()
        if r.get("id") == seq:
            if "error" in r:
                sys.exit("chromium: %s: %s" % (method, r["error"]))
            return r["result"]
        events.append(r)


def wait_event(name):
    while True:
        for i, e in enumerate(events):
            if e.get("method") == name:
                return events.pop(i)
        events.append(recv())


tid = [t for t in send("Target.getTargets")["targetInfos"] if t["type"] == "page"][0]["targetId"]
sess = send("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
for m in ("Runtime.enable", "Log.enable", "Page.enable"):
    send(m, session=sess)
send("Emulation.setDeviceMetricsOverride",
     {"width": 1100, "height": 1500, "deviceScaleFactor": 0.5, "mobile": False}, sess)
for spec in pages:
    name, url = spec.split("=", 1)
    shot = url.endswith("@shot")
    url = url[:-5] if shot else url
    events.clear()
    send("Page.navigate", {"url": url}, sess)
    wait_event("Page.loadEventFired")
    send("Emulation.setVirtualTimePolicy",
         {"policy": "pauseIfNetworkFetchesPending", "budget": 8000}, sess)
    wait_event("Emulation.virtualTimeBudgetExpired")
    send("Emulation.setVirtualTimePolicy", {"policy": "advance"}, sess)  # for the next page
    lines = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled":
            lines.append("console.%s: %s" % (p["type"], " ".join(
                str(a.get("value", a.get("description"))) for a in p["args"])))
        elif m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            lines.append("exception: " + d.get("exception", {}).get("description", d["text"]))
        elif m == "Log.entryAdded":
            lines.append("log.%s: %s" % (p["entry"]["level"], p["entry"]["text"]))
    with open("%s/%s.console" % (out, name), "w") as f:
        f.write("".join(x.replace("\n", " ") + "\n" for x in lines))
    r = send("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                  "returnByValue": True}, sess)
    with open("%s/%s.dom" % (out, name), "w") as f:
        f.write(r["result"]["value"])
    if shot:
        r = send("Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True}, sess)
        with open("%s/%s.png" % (out, name), "wb") as f:
            f.write(base64.b64decode(r["data"]))
try:
    send("Browser.close")
except SystemExit:  # it may close the pipe before it answers
    pass
proc.wait(timeout=30)
