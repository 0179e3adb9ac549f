"""Raw TCP (port 9100 "JetDirect" printers)."""

from __future__ import annotations

import socket

from lobby_core.site_config import DeviceConfig

from .base import WRITE_TIMEOUT_S, DeviceGone, Transport

CONNECT_TIMEOUT_S = 3.0


class TcpTransport(Transport):
    def __init__(
        self, host: str, port: int, connect_timeout: float = CONNECT_TIMEOUT_S, write_timeout: float = WRITE_TIMEOUT_S
    ):
        super().__init__(write_timeout)
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout
        self._socket: socket.socket | None = None

    @classmethod
    def from_config(cls, config: DeviceConfig) -> "TcpTransport":
        return cls(config.host or "127.0.0.1", config.tcp_port)

    @property
    def is_open(self) -> bool:
        return self._socket is not None

    def open(self) -> None:
        self.close()
        connection = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        # Few-byte status queries right after a job would otherwise wait out Nagle + delayed ACK (~40 ms).
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket = connection

    def write(self, data: bytes) -> None:
        connection = self._connected()
        connection.settimeout(self.write_timeout)
        connection.sendall(data)

    def read(self, n: int, timeout: float) -> bytes:
        connection = self._connected()
        connection.settimeout(timeout if timeout > 0 else 0.0)
        try:
            data = connection.recv(n)
        except (socket.timeout, BlockingIOError):
            return b""
        if not data:
            raise DeviceGone(f"{self.host}:{self.port} closed the connection")
        return data

    def close(self) -> None:
        connection, self._socket = self._socket, None
        if connection is not None:
            connection.close()

    def _connected(self) -> socket.socket:
        self._require_open()
        assert self._socket is not None
        return self._socket

    def __repr__(self) -> str:
        return f"TcpTransport({self.host}:{self.port})"
