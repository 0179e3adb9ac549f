"""A USB printer class device through pyusb (libusb), the way python-escpos' Usb printer talks to it.

Bulk OUT carries the job, bulk IN the printer's answers. The kernel's usblp driver is detached from
interface 0 first when it holds it (or configure `transport = "file"`, `port = "/dev/usb/lp0"` to keep it).
"""

from __future__ import annotations

import errno

import usb.core
import usb.util

from lobby_core.site_config import DeviceConfig

from ..base import MisconfiguredDevice
from .base import WRITE_TIMEOUT_S, DeviceGone, Transport

BULK_IN, BULK_OUT = 0x82, 0x01  # python-escpos' defaults; nearly every ESC/POS printer uses them
INTERFACE = 0


class UsbTransport(Transport):
    def __init__(
        self, vendor: int, product: int, in_ep: int = BULK_IN, out_ep: int = BULK_OUT,
        write_timeout: float = WRITE_TIMEOUT_S,
    ):
        super().__init__(write_timeout)
        self.vendor, self.product = vendor, product
        self.in_ep, self.out_ep = in_ep, out_ep
        self._device: usb.core.Device | None = None

    @classmethod
    def from_config(cls, config: DeviceConfig) -> "UsbTransport":
        if config.usb_vendor is None or config.usb_product is None:
            raise MisconfiguredDevice("a USB device needs usb_vendor and usb_product (see lsusb)")
        return cls(config.usb_vendor, config.usb_product)

    @property
    def is_open(self) -> bool:
        return self._device is not None

    def open(self) -> None:
        self.close()
        try:
            device = usb.core.find(idVendor=self.vendor, idProduct=self.product)
        except usb.core.NoBackendError as exc:
            raise OSError("no USB backend: install libusb-1.0") from exc
        if device is None:
            raise DeviceGone(f"USB device {self.vendor:04x}:{self.product:04x} not found")
        try:
            if device.is_kernel_driver_active(INTERFACE):
                device.detach_kernel_driver(INTERFACE)
        except NotImplementedError:  # backends other than libusb1 cannot tell
            pass
        try:
            device.set_configuration()
        except usb.core.USBError as exc:
            if exc.errno != errno.EBUSY:  # already configured by an earlier session
                usb.util.dispose_resources(device)
                raise
        self._device = device

    def write(self, data: bytes) -> None:
        device = self._usb()
        written = 0
        while written < len(data):
            written += device.write(self.out_ep, data[written:], _milliseconds(self.write_timeout))

    def read(self, n: int, timeout: float) -> bytes:
        device = self._usb()
        try:
            # libusb reads 0 ms as "wait forever": the shortest real wait is 1 ms.
            return bytes(device.read(self.in_ep, n, max(1, _milliseconds(timeout))))
        except usb.core.USBTimeoutError:
            return b""
        except usb.core.USBError as exc:
            if exc.errno in (errno.ENODEV, errno.EIO):  # unplugged
                raise DeviceGone(f"USB device {self.vendor:04x}:{self.product:04x} went away") from exc
            raise

    def close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            usb.util.dispose_resources(device)

    def _usb(self) -> usb.core.Device:
        self._require_open()
        assert self._device is not None
        return self._device

    def __repr__(self) -> str:
        return f"UsbTransport({self.vendor:04x}:{self.product:04x})"


def _milliseconds(seconds: float) -> int:
    return round(seconds * 1000)
