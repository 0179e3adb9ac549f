"""Where simulated devices meet drivers: a TCP listener on loopback, or a pseudo-terminal.

Both can be unplugged (`stop()`) and plugged back in (`start()`) at the same address, the way a cable
or a power switch would, so drivers' reconnect logic is exercised for real.
"""

from __future__ import annotations

import os
import pty
import select
import socket
import threading
import tty
from pathlib import Path
from typing import Callable

Handler = Callable[[bytes], bytes]  # bytes from the driver -> bytes answered


# vsmartcard's vpcd binds these (one per virtual reader) without SO_REUSEADDR: a simulator that happened
# to get one as its ephemeral port would keep pcscd's virtual reader from starting for a minute.
RESERVED_PORTS = frozenset(range(35963, 35967))


def _listen(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(4)
    return listener


class TcpPeer:
    """Accepts driver connections on 127.0.0.1:port and feeds what they send to `handler`."""

    def __init__(self, handler: Handler, port: int = 0):
        self._handler = handler
        self.port = port
        self._listener: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._acceptor: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def start(self) -> None:
        listener = _listen(self.port)
        while self.port == 0 and listener.getsockname()[1] in RESERVED_PORTS:
            replacement = _listen(0)
            listener.close()
            listener = replacement
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._running.set()
        self._acceptor = threading.Thread(
            target=self._accept_loop, args=(listener,), name=f"tcp-peer-{self.port}", daemon=True
        )
        self._acceptor.start()

    def stop(self) -> None:
        self._running.clear()
        listener, self._listener = self._listener, None
        acceptor, self._acceptor = self._acceptor, None
        if listener is not None:
            # The port is free again only once the accepting thread has let go of the listener.
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        if acceptor is not None:
            acceptor.join(timeout=5)
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()

    @property
    def connected_clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._running.is_set():
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            while self._running.is_set():
                data = client.recv(4096)
                if not data:
                    break
                reply = self._handler(data)
                if reply:
                    client.sendall(reply)
        except OSError:
            pass
        finally:
            with self._lock:
                if client in self._clients:
                    self._clients.remove(client)
            client.close()


class PtyPeer:
    """A pseudo-terminal whose slave side a driver opens through a stable symlink (`link`)."""

    def __init__(self, link: Path, handler: Handler | None = None):
        self.link = Path(link)
        self._handler = handler
        self._master: int | None = None
        self._slave: int | None = None
        self._lock = threading.Lock()
        self._reader: tuple[threading.Thread, threading.Event] | None = None

    def start(self) -> None:
        master, slave = pty.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        with self._lock:
            self._master, self._slave = master, slave
        temporary = self.link.with_name(self.link.name + ".new")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(os.ttyname(slave))
        temporary.replace(self.link)
        stopping = threading.Event()
        thread = threading.Thread(
            target=self._read_loop, args=(master, stopping), name=f"pty-peer-{self.link.name}", daemon=True
        )
        self._reader = (thread, stopping)
        thread.start()

    def stop(self) -> None:
        """Unplug: the driver's next read fails, and the path leads nowhere until `start()`."""
        self.link.unlink(missing_ok=True)
        reader, self._reader = self._reader, None
        if reader is not None:
            # The reader must be gone before its descriptor is closed: the number is reused at once by
            # the next open() anywhere in the process, and a stale reader would eat someone else's data.
            thread, stopping = reader
            stopping.set()
            thread.join(timeout=5)
        with self._lock:
            master, slave, self._master, self._slave = self._master, self._slave, None, None
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)

    @property
    def plugged_in(self) -> bool:
        return self._master is not None

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._master is None:
                raise OSError("device unplugged")
            view = memoryview(data)
            while view:
                written = os.write(self._master, view)
                view = view[written:]

    def _read_loop(self, master: int, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            reply = self._handler(data) if self._handler else b""
            if reply:
                try:
                    self.write(reply)
                except OSError:
                    return
