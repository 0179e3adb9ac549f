"""A device file or path: a printer's character device (/dev/usb/lp0), a FIFO, or a spool file.

A character device is opened read-write when it allows it (usblp and ttys pass the printer's answers
back); a FIFO or a regular file only takes bytes (`answers` is False). A missing path is an absent
device: it is never created, so an unplugged /dev node cannot turn into a regular file.
"""

from __future__ import annotations

import errno
import os
import select
import stat

from lobby_core.site_config import DeviceConfig

from ..base import MisconfiguredDevice
from .base import WRITE_TIMEOUT_S, DeviceGone, Transport


class FileTransport(Transport):
    def __init__(self, path: str, write_timeout: float = WRITE_TIMEOUT_S):
        super().__init__(write_timeout)
        self.path = path
        self._fd: int | None = None
        self.answers = False

    @classmethod
    def from_config(cls, config: DeviceConfig) -> "FileTransport":
        if not config.port:
            raise MisconfiguredDevice("no device file configured (port = ...)")
        return cls(config.port)

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> None:
        self.close()
        kind = os.stat(self.path).st_mode
        if stat.S_ISCHR(kind):
            try:
                fd, self.answers = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK), True
            except PermissionError:
                fd, self.answers = os.open(self.path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK), False
        elif stat.S_ISFIFO(kind):
            # Non-blocking: no reader on the other end fails at once (ENXIO) instead of hanging.
            fd, self.answers = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK), False
        else:
            fd, self.answers = os.open(self.path, os.O_WRONLY | os.O_APPEND), False
        self._fd = fd

    def write(self, data: bytes) -> None:
        fd = self._descriptor()
        view = memoryview(data)
        while view:
            _, writable, _ = select.select([], [fd], [], self.write_timeout)
            if not writable:
                raise TimeoutError(f"{self.path} took no data for {self.write_timeout} s")
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                continue
            except BrokenPipeError as exc:
                raise DeviceGone(f"{self.path}: nobody reads the other end") from exc

    def read(self, n: int, timeout: float) -> bytes:
        fd = self._descriptor()
        if not self.answers:
            return b""
        readable, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not readable:
            return b""
        try:
            data = os.read(fd, n)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.ENODEV, errno.ENXIO):
                raise DeviceGone(f"{self.path} went away") from exc
            raise
        if not data:
            raise DeviceGone(f"{self.path} went away")
        return data

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _descriptor(self) -> int:
        self._require_open()
        assert self._fd is not None
        return self._fd

    def __repr__(self) -> str:
        return f"FileTransport({self.path})"
