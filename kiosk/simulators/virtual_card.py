"""Python virtual smart cards (eGK, Belgian eID, an unsupported card) behind vsmartcard's vpcd.

vpcd (loaded by pcscd) waits on 127.0.0.1:35963 for a virtual ICC. Inserting a card = connecting;
removing it = closing the socket. Frames are a 2-byte big-endian length + payload; a 1-byte payload is a
control (0 power off, 1 power on, 2 reset: no reply; 4: reply with the ATR), anything longer an APDU.
"""

from __future__ import annotations

import datetime as dt
import gzip
import socket
import struct
import threading
from dataclasses import dataclass, field

VPCD_PORT = 35963
SW_OK = b"\x90\x00"


@dataclass
class VirtualCard:
    atr: bytes
    applications: dict[bytes, dict[int, bytes]] = field(default_factory=dict)  # AID -> SFI -> content
    paths: dict[bytes, bytes] = field(default_factory=dict)  # path from MF -> content
    hints_exact_length: bool = False  # answer 6Cxx when Le exceeds what is left (as the Belgian eID does)
    _application: dict[int, bytes] | None = None
    _current: bytes | None = None
    _pending: bytes = b""

    def power_cycle(self) -> None:
        self._application, self._current, self._pending = None, None, b""

    def respond(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return b"\x67\x00"
        ins, p1, p2 = apdu[1], apdu[2], apdu[3]
        body = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        le = (apdu[4] or 256) if len(apdu) == 5 else 256
        if ins == 0xA4:
            return self._select(p1, p2, body)
        if ins == 0xB0:
            return self._read_binary(p1, p2, le)
        if ins == 0xC0:
            data, self._pending = self._pending[:le], self._pending[le:]
            return data + SW_OK if data else b"\x6A\x88"
        return b"\x6D\x00"

    def _select(self, p1: int, p2: int, body: bytes) -> bytes:
        if p1 == 0x04 and body in self.applications:
            self._application, self._current = self.applications[body], None
            if p2 == 0x0C:
                return SW_OK
            self._pending = b"\x6F" + bytes([len(body) + 2]) + b"\x84" + bytes([len(body)]) + body  # FCI
            return bytes([0x61, len(self._pending)])  # T=0 style: fetch it with GET RESPONSE
        if p1 == 0x08 and body in self.paths:
            self._current = self.paths[body]
            return SW_OK
        return b"\x6A\x82"

    def _read_binary(self, p1: int, p2: int, le: int) -> bytes:
        if p1 & 0x80:
            content = (self._application or {}).get(p1 & 0x1F)
            if content is None:
                return b"\x6A\x82"
            self._current, offset = content, p2
        else:
            offset = (p1 << 8) | p2
        if self._current is None:
            return b"\x69\x86"
        remaining = self._current[offset:]
        if offset > len(self._current) or (not remaining and self.hints_exact_length):
            return b"\x6B\x00"
        if self.hints_exact_length and len(remaining) < le:
            return bytes([0x6C, len(remaining)])
        data = remaining[:le]
        return data + (SW_OK if len(data) == le else b"\x62\x82")


# -- card contents (synthetic people only) ----------------------------------------------------------

EGK_AID = bytes.fromhex("D27600000102")
EGK_ATR = bytes.fromhex("3BD396FF81B1FE451F078081052D")
EID_ATR = bytes.fromhex("3B9813400AA503010101AD1311")
OTHER_ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
VSD_NS = "http://ws.gematik.de/fa/vsdm/vsd/v5.2"


def _egk_pd_xml(person: dict) -> bytes:
    xml = f"""<?xml version="1.0" encoding="ISO-8859-15" standalone="yes"?>
<vsda:UC_PersoenlicheVersichertendatenXML xmlns:vsda="{VSD_NS}" CDM_VERSION="5.2.0">
<vsda:Versicherter><vsda:Versicherten_ID>{person['member_id']}</vsda:Versicherten_ID>
<vsda:Person><vsda:Geburtsdatum>{person['birth_date']:%Y%m%d}</vsda:Geburtsdatum>
<vsda:Vorname>{person['given']}</vsda:Vorname><vsda:Nachname>{person['family']}</vsda:Nachname>
<vsda:Geschlecht>{person['sex']}</vsda:Geschlecht>
<vsda:StrassenAdresse><vsda:Postleitzahl>{person['postal_code']}</vsda:Postleitzahl><vsda:Ort>{person['city']}</vsda:Ort>
<vsda:Land><vsda:Wohnsitzlaendercode>D</vsda:Wohnsitzlaendercode></vsda:Land>
<vsda:Strasse>{person['street']}</vsda:Strasse><vsda:Hausnummer>{person['house']}</vsda:Hausnummer></vsda:StrassenAdresse>
</vsda:Person></vsda:Versicherter></vsda:UC_PersoenlicheVersichertendatenXML>"""
    return xml.encode("iso-8859-15")


def _egk_vd_xml(person: dict) -> bytes:
    xml = f"""<?xml version="1.0" encoding="ISO-8859-15" standalone="yes"?>
<vsda:UC_AllgemeineVersicherungsdatenXML xmlns:vsda="{VSD_NS}" CDM_VERSION="5.2.0">
<vsda:Versicherter><vsda:Versicherungsschutz><vsda:Beginn>20200101</vsda:Beginn>
<vsda:Kostentraeger><vsda:Kostentraegerkennung>{person['payor_id']}</vsda:Kostentraegerkennung>
<vsda:Kostentraegerlaendercode>D</vsda:Kostentraegerlaendercode><vsda:Name>{person['payor']}</vsda:Name></vsda:Kostentraeger>
</vsda:Versicherungsschutz><vsda:Zusatzinfos><vsda:ZusatzinfosGKV><vsda:Versichertenart>1</vsda:Versichertenart>
</vsda:ZusatzinfosGKV></vsda:Zusatzinfos></vsda:Versicherter></vsda:UC_AllgemeineVersicherungsdatenXML>"""
    return xml.encode("iso-8859-15")


SAMPLE_EGK_PERSON = {
    "member_id": "X110411675", "birth_date": dt.date(1958, 3, 14), "given": "Jürgen", "family": "Müßig-Testfall",
    "sex": "M", "postal_code": "10117", "city": "Berlin", "street": "Friedrichstraße", "house": "43",
    "payor_id": "109500969", "payor": "Test-Krankenkasse Ost",
}
SAMPLE_EID_PERSON = {
    "card_number": "592123456789", "national_number": "85071512345", "family": "Peeters-Specimen",
    "given": "Anaïs Marie", "birth_date": "15 JUIL 1985", "sex": "F", "valid_until": "12.09.2031",
    "street": "Rue de la Loi 16", "postal_code": "1000", "city": "Bruxelles",
}


def egk_card(person: dict = SAMPLE_EGK_PERSON) -> VirtualCard:
    pd_zip = gzip.compress(_egk_pd_xml(person))
    ef_pd = struct.pack(">H", len(pd_zip)) + pd_zip
    vd_zip = gzip.compress(_egk_vd_xml(person))
    start = 8
    ef_vd = struct.pack(">HHHH", start, start + len(vd_zip) - 1, 0xFFFF, 0xFFFF) + vd_zip
    return VirtualCard(EGK_ATR, applications={EGK_AID: {1: ef_pd, 2: ef_vd}})


def _tlv(tag: int, value: str) -> bytes:
    data = value.encode("utf-8")
    length = bytearray()
    size = len(data)
    while size >= 0x80:
        length.append(0x80 | (size & 0x7F))
        size >>= 7
    length.append(size)
    return bytes([tag]) + bytes(length) + data


def eid_card(person: dict = SAMPLE_EID_PERSON) -> VirtualCard:
    identity = b"".join(
        [
            _tlv(0x01, person["card_number"]), _tlv(0x04, person["valid_until"]), _tlv(0x06, person["national_number"]),
            _tlv(0x07, person["family"]), _tlv(0x08, person["given"]), _tlv(0x0A, "Belge"),
            _tlv(0x0C, person["birth_date"]), _tlv(0x0D, person["sex"]),
        ]
    )
    address = _tlv(0x01, person["street"]) + _tlv(0x02, person["postal_code"]) + _tlv(0x03, person["city"])
    return VirtualCard(
        EID_ATR,
        paths={bytes.fromhex("3F00DF014031"): identity, bytes.fromhex("3F00DF014033"): address},
        hints_exact_length=True,
    )


def other_card() -> VirtualCard:
    """A payment-style card with none of the applications the kiosk reads."""
    return VirtualCard(OTHER_ATR)


CARDS = {"egk": egk_card, "eid": eid_card, "other": other_card}


class VpcdClient:
    """Holds one virtual card in vpcd's reader. `insert()` connects, `remove()` pulls the card."""

    def __init__(self, host: str = "127.0.0.1", port: int = VPCD_PORT):
        self.host, self.port = host, port
        self.card: VirtualCard | None = None
        self.apdus_answered = 0
        self._sock: socket.socket | None = None
        self._remove_after: int | None = None
        self._lock = threading.Lock()

    @property
    def inserted(self) -> bool:
        return self._sock is not None

    def insert(self, card: VirtualCard, timeout: float = 5.0) -> None:
        self.remove()
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.settimeout(None)
        card.power_cycle()
        with self._lock:
            self.card, self._sock, self.apdus_answered = card, sock, 0
        threading.Thread(target=self._serve, args=(sock, card), name="vpcd-card", daemon=True).start()

    def remove_after_apdus(self, count: int) -> None:
        """Pull the card out when the reader sends its `count`+1-th APDU (a patient in a hurry)."""
        self._remove_after = count

    def remove(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _serve(self, sock: socket.socket, card: VirtualCard) -> None:
        try:
            while True:
                header = _recv_exact(sock, 2)
                payload = _recv_exact(sock, struct.unpack(">H", header)[0])
                if len(payload) == 1:
                    if payload[0] == 4:
                        sock.sendall(struct.pack(">H", len(card.atr)) + card.atr)
                    else:
                        card.power_cycle()
                    continue
                if self._remove_after is not None and self.apdus_answered >= self._remove_after:
                    self._remove_after = None
                    break
                response = card.respond(payload)
                self.apdus_answered += 1
                sock.sendall(struct.pack(">H", len(response)) + response)
        except OSError:
            pass
        finally:
            with self._lock:
                if self._sock is sock:
                    self._sock = None
            sock.close()


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("vpcd closed the connection")
        data += chunk
    return bytes(data)
