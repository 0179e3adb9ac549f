"""A socket standing in for systemd's NOTIFY_SOCKET, for tests of what the agent tells systemd."""

from __future__ import annotations

import socket
from pathlib import Path


def bind(path: Path, timeout_s: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(timeout_s)
    return sock


def received(sock: socket.socket) -> list[str]:
    """Every message waiting on the socket, without waiting for more."""
    timeout_s = sock.gettimeout()
    messages = []
    sock.setblocking(False)
    try:
        while True:
            messages.append(sock.recv(4096).decode())
    except BlockingIOError:
        return messages
    finally:
        sock.settimeout(timeout_s)
