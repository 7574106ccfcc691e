#!/usr/bin/env python3
"""A real HTTP/1.1 node for the HTTP balancer tests (Python's http.server).

usage: backend.py PORT NAME [JVMROUTE]

Prints "ready" once listening. Every response carries X-Node: NAME and
X-Peer-Port: the port of the connection the request came on (so a test can
see upstream keep-alive). Paths:
  /whoami            body NAME
  /login             sets JSESSIONID=<random>.<JVMROUTE>
  /headers           body: the request head as received
  /big?n=N           N bytes, chunked, generated on the fly
  /upload (POST/PUT) reads the body (Content-Length or chunked) without
                     keeping it, answers "<NAME> <bytes> <md5>"
  /status/NNN        answers status NNN
  /slow?ms=N         answers after N ms
"""
import hashlib
import http.server
import os
import socketserver
import sys
import time
import urllib.parse

PORT = int(sys.argv[1])
NAME = sys.argv[2]
JVMROUTE = sys.argv[3] if len(sys.argv) > 3 else NAME


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body=b"", extra=()):
        self.send_response(code)
        self.send_header("X-Node", NAME)
        self.send_header("X-Peer-Port", str(self.client_address[1]))
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        """Bytes and md5 of the request body, read in pieces."""
        md5 = hashlib.md5()
        total = 0
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = size
                while left:
                    piece = self.rfile.read(min(left, 1 << 16))
                    if not piece:
                        raise ConnectionError("body cut")
                    md5.update(piece)
                    total += len(piece)
                    left -= len(piece)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                piece = self.rfile.read(min(left, 1 << 16))
                if not piece:
                    raise ConnectionError("body cut")
                md5.update(piece)
                total += len(piece)
                left -= len(piece)
        return total, md5.hexdigest()

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        path = url.path.split(";")[0]
        if path == "/login":
            sid = os.urandom(8).hex().upper()
            return self.send(200, NAME.encode(), [("Set-Cookie", f"JSESSIONID={sid}.{JVMROUTE}; Path=/")])
        if path == "/headers":
            head = f"{self.requestline}\r\n{self.headers}".encode()
            return self.send(200, head)
        if path == "/big":
            n = int(q.get("n", ["0"])[0])
            self.send_response(200)
            self.send_header("X-Node", NAME)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            block = b"x" * (1 << 16)
            left = n
            while left:
                piece = block[: min(left, len(block))]
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                left -= len(piece)
            self.wfile.write(b"0\r\n\r\n")
            return
        if path == "/upload":
            total, digest = self.read_body()
            return self.send(200, f"{NAME} {total} {digest}".encode())
        if path.startswith("/status/"):
            self.read_body()
            return self.send(int(path.rsplit("/", 1)[1]), b"status")
        if path == "/slow":
            time.sleep(int(q.get("ms", ["0"])[0]) / 1000)
            return self.send(200, NAME.encode())
        self.read_body()
        return self.send(200, NAME.encode())

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = route


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server(("127.0.0.1", PORT), Handler)
print("ready", flush=True)
server.serve_forever()
