"""A stand-in for the ngrok agent, for tests: the ngrok cloud cannot be reached here.

It speaks what pyngrok expects: ``ngrok start --none --log stdout`` prints the
logfmt start-up lines, serves the agent API (``/api/tunnels`` and
``/api/endpoints``: GET, POST, DELETE) on a loopback port, and each tunnel is a
TCP forwarder from a new loopback "public" port to the local server. What it
did is appended as JSON lines to ``$FAKE_NGROK_STATE``.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

TUNNELS: dict[str, dict] = {}
FORWARDERS: dict[str, socketserver.TCPServer] = {}
COUNTER = itertools.count(1)


def record(event: dict) -> None:
    path = os.environ.get("FAKE_NGROK_STATE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(event) + "\n")


def log(msg: str, **fields: str) -> None:
    extra = "".join(f" {k}={v}" for k, v in fields.items())
    print(f't={time.strftime("%Y-%m-%dT%H:%M:%S")} lvl=info msg="{msg}"{extra}', flush=True)


def pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def forwarder(target_port: int) -> socketserver.TCPServer:
    class Forward(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            upstream = socket.create_connection(("127.0.0.1", target_port))
            back = threading.Thread(target=pump, args=(upstream, self.request), daemon=True)
            back.start()
            pump(self.request, upstream)
            back.join()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Forward)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def target_port(addr: str) -> int:
    return int(str(addr).rstrip("/").rsplit(":", 1)[-1])


def tunnel_name(path: str) -> str:
    """The tunnel named in ``/api/tunnels/<name>`` (names may hold quoted slashes)."""
    return unquote(path.split("/", 3)[3]) if path.count("/") >= 3 else ""


class Api(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, body: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        kind = self.path.rstrip("/").split("/")[-1]
        if kind in ("tunnels", "endpoints"):
            self.reply(200, {kind: [t for t in TUNNELS.values() if t["kind"] == kind]})
        else:
            name = tunnel_name(self.path)
            self.reply(200, TUNNELS[name]) if name in TUNNELS else self.reply(404, {})

    def do_POST(self) -> None:
        kind = self.path.rstrip("/").split("/")[-1]
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        addr = body.get("addr") or (body.get("upstream") or {}).get("url")
        name = body.get("name") or f"tunnel-{next(COUNTER)}"
        server = forwarder(target_port(addr))
        FORWARDERS[name] = server
        url = f"http://127.0.0.1:{server.server_address[1]}"
        uri = f"/api/{kind}/{quote(name, safe='')}"
        TUNNELS[name] = {"kind": kind, "name": name, "id": name, "uri": uri,
                         "public_url": url, "url": url, "proto": "http",
                         "config": {"addr": addr}, "upstream": {"url": addr}}
        record({"event": "open", "name": name, "addr": addr, "public_url": url})
        self.reply(201, TUNNELS[name])

    def do_DELETE(self) -> None:
        name = tunnel_name(self.path)
        if name not in TUNNELS:
            self.reply(404, {"msg": "not found"})
            return
        record({"event": "close", "name": name, "public_url": TUNNELS.pop(name)["public_url"]})
        FORWARDERS.pop(name).shutdown()
        self.reply(204)


def main(argv: list[str]) -> int:
    if "version" in argv or "--version" in argv:
        print("ngrok version 3.20.0")
        return 0
    if not argv or argv[0] != "start":
        print(f"fake ngrok: unsupported command {argv}", file=sys.stderr)
        return 2
    token = argv[argv.index("--authtoken") + 1] if "--authtoken" in argv else None
    api = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    record({"event": "start", "authtoken": token, "pid": os.getpid()})
    log("starting web service", obj="web", addr=f"127.0.0.1:{api.server_address[1]}")
    log("tunnel session started", obj="tunnels.session")
    log("client session established", obj="csess")
    api.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
