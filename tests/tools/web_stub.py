#!/usr/bin/env python3
"""web_stub.py: a local stand-in for the web services DSL fixtures call.

Python 3 standard library only.  Usage:

    python3 tests/tools/web_stub.py --port-file FILE --routes ROUTES
        [--log FILE]

It binds 127.0.0.1 on a port the kernel picks and writes the port into
FILE once listening (whole, by rename).  ROUTES is a JSON list of
[METHOD, PATH_REGEX, STATUS, CONTENT_TYPE, BODY]: a request is answered by
the first route whose method matches and whose regex matches the whole
path (query string included); BODY is sent as text, or as compact JSON
when it is not a string.  Any other request gets 404 {"error": "no
route"}.  --log FILE appends one JSON line per request: {"method",
"path", "headers", "body", "route"} (the body as text, cut at 64 KiB;
route the index of the route that answered, or null).

Tests rewrite the fixtures' internet URLs to http://127.0.0.1:PORT/HOST/...
so that no request leaves the machine.
"""

import argparse
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "web-stub/1.0"

    def log_message(self, fmt, *args):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        route = None
        for i, (method, regex, _, _, _) in enumerate(self.server.routes):
            if method == self.command and re.fullmatch(regex, self.path):
                route = i
                break
        if self.server.log_path:
            line = json.dumps({
                "method": self.command, "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body": raw[:65536].decode("utf-8", "replace"),
                "route": route}, ensure_ascii=False) + "\n"
            with log_lock, open(self.server.log_path, "a",
                                encoding="utf-8") as f:
                f.write(line)
        if route is None:
            return self.reply(404, "application/json",
                              b'{"error": "no route"}')
        _, _, status, ctype, body = self.server.routes[route]
        if not isinstance(body, str):
            body = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        self.reply(status, ctype, body.encode())

    def reply(self, status, ctype, data):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--routes", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    with open(args.routes, encoding="utf-8") as f:
        routes = json.load(f)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.routes = routes
    srv.log_path = args.log
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
