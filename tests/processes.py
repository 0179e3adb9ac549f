"""Small helpers for tests that run real processes on loopback."""

from __future__ import annotations

import signal
import socket
import subprocess


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
    """Signal a process and wait for it; SIGKILL if it does not exit in time. Returns the exit code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode
