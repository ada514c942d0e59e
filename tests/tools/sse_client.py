#!/usr/bin/env python3
"""sse_client.py: POST a JSON body and read the answer as a client would,
printing one line per SSE frame: "<seconds since request> <payload>" where
payload is the JSON of a data frame or "ping" for a bare ping frame.

  sse_client.py URL KEY BODY [--disconnect-after N] [--slow-read SECONDS]

--disconnect-after N closes the connection after N data frames (a client
that leaves mid-stream); --slow-read sleeps between reads (a slow reader).
The HTTP status and Content-Type go to stderr as "status <n> <type>".
"""
import http.client, sys, time, urllib.parse

def main():
    url, key, body = sys.argv[1], sys.argv[2], sys.argv[3]
    disconnect = None
    slow = 0.0
    args = sys.argv[4:]
    while args:
        if args[0] == "--disconnect-after":
            disconnect = int(args[1]); args = args[2:]
        elif args[0] == "--slow-read":
            slow = float(args[1]); args = args[2:]
        else:
            raise SystemExit("unknown option " + args[0])
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    t0 = time.monotonic()
    sys.stderr.write("start %.6f\n" % time.time())
    conn.request("POST", u.path, body=body.encode(), headers={
        "Authorization": "Bearer " + key,
        "Content-Type": "application/json"})
    r = conn.getresponse()
    sys.stderr.write("status %d %s\n" % (r.status, r.getheader("Content-Type")))
    if not (r.getheader("Content-Type") or "").startswith("text/event-stream"):
        sys.stdout.write("%.3f %s\n" % (time.monotonic() - t0, r.read().decode()))
        return
    frames = 0
    event = None
    while True:
        if slow:
            time.sleep(slow)
        line = r.readline()
        if not line:
            break
        line = line.decode().rstrip("\r\n")
        if line.startswith("data: "):
            sys.stdout.write("%.3f %s\n" % (time.monotonic() - t0, line[6:]))
            sys.stdout.flush()
            frames += 1
            if disconnect is not None and frames >= disconnect:
                conn.sock.close()
                return
        elif line.startswith("event: "):
            event = line[7:]
        elif line == "" and event is not None:
            sys.stdout.write("%.3f %s\n" % (time.monotonic() - t0, event))
            event = None

main()
