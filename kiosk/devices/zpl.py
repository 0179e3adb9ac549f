"""ZPL templates for patient labels and wristbands (203 dpi: 8 dots per mm), and ~HS status parsing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .base import DeviceState, DeviceStatus

HOST_STATUS_QUERY = b"~HS"


@dataclass(frozen=True)
class LabelData:
    family_name: str
    given_names: str
    birth_date: dt.date
    mrn: str

    def __repr__(self) -> str:
        return "LabelData(<redacted>)"

    @property
    def display_name(self) -> str:
        return f"{self.family_name.upper()}, {self.given_names}"


def field(text: str) -> str:
    """Field data safe for ^FH_: the ZPL control characters and the escape itself written in hex."""
    return "".join(f"_{ord(char):02X}" if char in "^~_" else char for char in text)


def patient_label(data: LabelData) -> str:
    """A 2 x 1 inch chart label: name, birth date, MRN as Code 128 and as a QR code."""
    return "\n".join(
        [
            "^XA^CI28^PW406^LL203",
            f"^FO16,12^A0N,32,28^FH_^FD{field(data.display_name)}^FS",
            f"^FO16,50^A0N,24,22^FH_^FDDOB {data.birth_date.isoformat()}  MRN {field(data.mrn)}^FS",
            f"^FO16,84^BY2^BCN,70,Y,N,N^FH_^FD{field(data.mrn)}^FS",
            f"^FO300,70^BQN,2,4^FH_^FDQA,{field(data.mrn)}^FS",
            "^XZ",
        ]
    )


def wristband(data: LabelData) -> str:
    """A 1 x 11 inch wristband printed along its length (rotated fields)."""
    return "\n".join(
        [
            "^XA^CI28^PW203^LL2233^FWR",
            f"^FO120,300^A0R,40,36^FH_^FD{field(data.display_name)}^FS",
            f"^FO70,300^A0R,30,28^FH_^FDDOB {data.birth_date.isoformat()}  MRN {field(data.mrn)}^FS",
            f"^FO20,1100^BY2^BCR,40,N,N,N^FH_^FD{field(data.mrn)}^FS",
            f"^FO40,1700^BQR,2,3^FH_^FDQA,{field(data.mrn)}^FS",
            "^XZ",
        ]
    )


def interpret_host_status(answer: bytes) -> DeviceStatus:
    """Parse the reply to ~HS (three STX...ETX strings). Incomplete or garbled: status unknown."""
    strings = [part.split(b"\x03", 1)[0].decode("ascii", "replace") for part in answer.split(b"\x02")[1:]]
    if len(strings) < 2:
        return DeviceStatus(DeviceState.UNKNOWN, "status unknown")
    first, second = strings[0].split(","), strings[1].split(",")
    if len(first) < 3 or len(second) < 4:
        return DeviceStatus(DeviceState.UNKNOWN, "status unknown")
    if second[2].strip() == "1":
        return DeviceStatus(DeviceState.OFFLINE, "head open")
    if first[1].strip() == "1":
        return DeviceStatus(DeviceState.OFFLINE, "paper out")
    if second[3].strip() == "1":
        return DeviceStatus(DeviceState.OFFLINE, "ribbon out")
    if first[2].strip() == "1":
        return DeviceStatus(DeviceState.OFFLINE, "paused")
    return DeviceStatus(DeviceState.ONLINE)


def host_status_answer(paper_out: bool = False, paused: bool = False, head_open: bool = False) -> bytes:
    """The ~HS reply a Zebra printer sends (used by the simulator)."""
    first = f"030,{int(paper_out)},{int(paused)},1245,000,0,0,0,000,0,0,0"
    second = f"000,0,{int(head_open)},0,0,2,4,0,00000000,1,000"
    third = "1234,0"
    return b"".join(b"\x02" + s.encode() + b"\x03\r\n" for s in (first, second, third))
