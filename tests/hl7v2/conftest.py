"""A real agent taking its schedule from an SIU feed, and an MLLP client that speaks to it over a socket."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from tests.agent.launcher import RunningAgent, start_agent
from tests.processes import free_port

START, END = b"\x0b", b"\x1c\r"


class MllpClient:
    """One MLLP connection (optionally TLS): frames out, the answer frame back."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None, timeout: float = 15.0):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = tls.wrap_socket(raw, server_hostname="localhost") if tls else raw
        self.buffer = b""

    def send_frame(self, payload: bytes) -> None:
        self.sock.sendall(START + payload + END)

    def receive_frame(self) -> bytes:
        while END not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before a full frame: {self.buffer!r}")
            self.buffer += chunk
        frame, self.buffer = self.buffer.split(END, 1)
        assert frame.startswith(START), frame
        return frame[1:]

    def exchange(self, message: str | bytes) -> str:
        """Send one message (text goes out as UTF-8) and return the ACK's text."""
        self.send_frame(message.encode("utf-8") if isinstance(message, str) else message)
        return self.receive_frame().decode("utf-8")

    def close(self) -> None:
        self.sock.close()


class SiuAgent:
    """The edge agent with `[schedule] source = "hl7v2"`, restartable on its data (same ports)."""

    def __init__(self, folder: Path, **schedule: object):
        self.folder = folder
        self.siu_port = free_port()
        self.schedule = {"source": "hl7v2", "siu_listen": f"127.0.0.1:{self.siu_port}", "refresh_s": 5, **schedule}
        self.running: RunningAgent | None = None

    def start(self) -> "SiuAgent":
        port = self.running.port if self.running else None
        self.running = start_agent(self.folder, port=port, schedule=self.schedule)
        return self

    def stop(self) -> None:
        if self.running is not None and self.running.process.poll() is None:
            self.running.stop()

    def lookup(self, family: str, given: str, birth_date: str) -> dict:
        response = httpx.post(
            f"{self.running.base_url}/api/v1/lookup", headers=self.running.headers(), timeout=30,
            json={"family": family, "given": given, "birth_date": birth_date},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()

    def health(self) -> dict:
        return httpx.get(f"{self.running.base_url}/healthz", timeout=10).json()


@pytest.fixture
def siu_agent(tmp_path: Path) -> Iterator[Callable[..., SiuAgent]]:
    started: list[SiuAgent] = []

    def make(**schedule: object) -> SiuAgent:
        agent = SiuAgent(tmp_path / f"agent{len(started)}", **schedule)
        started.append(agent)
        return agent.start()

    try:
        yield make
    finally:
        for agent in started:
            agent.stop()
