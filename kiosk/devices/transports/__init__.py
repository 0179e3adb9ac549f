"""Byte transports to devices, one per wire, chosen by `DeviceConfig.transport`.

    transport = transport_for(config, accepted=("tcp", "serial"))   # MisconfiguredDevice if it cannot work
    transport.open()                                                 # OSError while the device is absent
    transport.write(b"~HS"); answer = transport.read(256, timeout=0.5)
    transport.close()
"""

from __future__ import annotations

from collections.abc import Collection

from lobby_core.site_config import DeviceConfig

from ..base import MisconfiguredDevice
from .base import DeviceGone, Transport
from .file import FileTransport
from .serial import SerialTransport
from .tcp import TcpTransport
from .usb import UsbTransport

TRANSPORTS: dict[str, type[Transport]] = {
    "tcp": TcpTransport,
    "serial": SerialTransport,
    "usb": UsbTransport,
    "file": FileTransport,
}


def transport_for(config: DeviceConfig, accepted: Collection[str]) -> Transport:
    """The (not yet opened) transport a device entry asks for, if this kind of device can use it."""
    if config.transport not in accepted or config.transport not in TRANSPORTS:
        kind = config.kind.replace("_", " ")
        raise MisconfiguredDevice(f"a {kind} uses transport {' or '.join(accepted)}, not {config.transport!r}")
    return TRANSPORTS[config.transport].from_config(config)


__all__ = ["TRANSPORTS", "DeviceGone", "Transport", "transport_for"]
