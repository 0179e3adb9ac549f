"""Raw-socket HTTP/1.1 for tests that misbehave on purpose (slow heads, huge bodies, many streams).

Every socket can leave from its own loopback source address (127.0.0.2, ...): Linux answers the whole of
127/8, so one machine plays several clients and the agent's per-source limits can be exercised.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field


def connect(port: int, source: str = "127.0.0.1", timeout: float = 10.0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def request_head(method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> dict:
        return json.loads(self.body)


def read_head(sock: socket.socket) -> tuple[RawResponse, bytes]:
    """The status line and headers; returns the response and any body bytes already read."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response head: {buffer[:200]!r}")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers), rest


def read_response(sock: socket.socket) -> RawResponse:
    """A whole response with a Content-Length body (what the agent's error answers carry)."""
    response, body = read_head(sock)
    length = int(response.headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    response.body = body[:length]
    return response


def closed_by_peer(sock: socket.socket, within_s: float) -> bool:
    """True if the server closes the connection within `within_s` (whatever it sends first)."""
    deadline = time.monotonic() + within_s
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def open_stream(port: int, path: str, source: str, headers: dict[str, str] | None = None) -> tuple[socket.socket, RawResponse]:
    """GET an event stream and read its head: the socket stays open (the stream) unless refused."""
    sock = connect(port, source)
    sock.sendall(request_head("GET", path, {"Accept": "text/event-stream", **(headers or {})}))
    response, rest = read_head(sock)
    response.body = rest
    return sock, response


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB."""
    values = {}
    for line in open(f"/proc/{pid}/status", encoding="ascii"):
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values
