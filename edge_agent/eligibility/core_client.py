"""CAQH CORE connectivity to a clearinghouse: one real-time 270 out, one 271 back.

    source = CoreSource(config.eligibility, site_name)
    summary = await source.check(inquiry, control_number)      # EligibilitySummary, or raises Unavailable

SOAP 1.2 (`envelope = "soap"`): a COREEnvelopeRealTimeRequest in the Body, Content-Type
application/soap+xml. MIME (`envelope = "mime"`): multipart/form-data with the same fields as parts.
Fields: PayloadType X12_270_Request_005010X279A1, ProcessingMode RealTime, PayloadID (a UUID),
TimeStamp (UTC), SenderID, ReceiverID, CORERuleVersion 2.2.0, Payload (the 270). Auth: HTTP Basic or a
client certificate. Any failure to get a readable 271 (time-out, refused connection, 5xx, a SOAP fault,
an unreadable envelope or payload, CORE ErrorCode other than Success) raises `Unavailable(code)`.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import email.utils
import io
import ssl
import uuid
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
import httpx

from ..config import EligibilitySection
from .request_270 import Inquiry, Parties, build_270
from .response_271 import parse_271
from .summary import EligibilitySummary
from .x12 import X12Error

SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
CORE_NS = "http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd"
REQUEST_TYPE = "X12_270_Request_005010X279A1"
RESPONSE_TYPE = "X12_271_Response_005010X279A1"
CORE_RULE_VERSION = "2.2.0"


class Unavailable(Exception):
    """No usable answer this time; `code` says why (no PHI) and the check is retried later."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def http_client(section: EligibilitySection) -> httpx.AsyncClient:
    verify: ssl.SSLContext | bool = True
    if section.tls_ca_file or section.auth == "client-cert":
        verify = ssl.create_default_context(cafile=str(section.tls_ca_file) if section.tls_ca_file else None)
        if section.auth == "client-cert":
            verify.load_cert_chain(str(section.tls_client_cert), str(section.tls_client_key))
    auth = httpx.BasicAuth(section.username, section.password) if section.auth == "basic" else None
    return httpx.AsyncClient(timeout=httpx.Timeout(section.timeout_s), verify=verify, auth=auth,
                             limits=httpx.Limits(max_connections=section.concurrency))  # fmt: skip


def parties_of(section: EligibilitySection, site_name: str) -> Parties:
    return Parties(
        sender_qualifier=section.sender_qualifier, sender_id=section.sender_id,
        receiver_qualifier=section.receiver_qualifier, receiver_id=section.receiver_id,
        provider_name=section.provider_name or site_name, provider_npi=section.provider_npi,
        originating_company_id=section.originating_company_id or "9" + section.provider_npi[-9:], usage=section.usage,
    )  # fmt: skip


def core_fields(section: EligibilitySection, payload: str, payload_id: str, now: dt.datetime) -> dict[str, str]:
    return {
        "PayloadType": REQUEST_TYPE, "ProcessingMode": "RealTime", "PayloadID": payload_id,
        "TimeStamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "SenderID": section.sender_id,
        "ReceiverID": section.receiver_id, "CORERuleVersion": CORE_RULE_VERSION, "Payload": payload,
    }  # fmt: skip


def soap_request(fields: dict[str, str]) -> bytes:
    envelope = ET.Element(f"{{{SOAP_NS}}}Envelope")
    ET.SubElement(envelope, f"{{{SOAP_NS}}}Header")
    request = ET.SubElement(ET.SubElement(envelope, f"{{{SOAP_NS}}}Body"), f"{{{CORE_NS}}}COREEnvelopeRealTimeRequest")
    for name, value in fields.items():
        ET.SubElement(request, name).text = value  # CORE's fields are unqualified (elementFormDefault)
    out = io.BytesIO()  # what ET.tostring(..., encoding="utf-8") does, typed as bytes
    ET.ElementTree(envelope).write(out, encoding="utf-8", xml_declaration=True)
    return out.getvalue()


def soap_answer(body: bytes) -> dict[str, str]:
    try:
        root = SafeET.fromstring(body)
    except Exception:  # noqa: BLE001 - defusedxml raises several kinds for hostile or broken XML
        raise Unavailable("envelope_unreadable")
    if root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault") is not None:
        raise Unavailable("soap_fault")
    answer = root.find(f"{{{SOAP_NS}}}Body/{{{CORE_NS}}}COREEnvelopeRealTimeResponse")
    if answer is None:
        raise Unavailable("envelope_unreadable")
    return {child.tag.split("}")[-1]: (child.text or "") for child in answer}


def mime_answer(content_type: str, body: bytes) -> dict[str, str]:
    if not content_type.startswith("multipart/"):
        raise Unavailable("envelope_unreadable")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        param = part.get_param("name", header="content-disposition")
        name = email.utils.collapse_rfc2231_value(param) if param else ""
        if not name:
            continue
        if part.get_content_maintype() == "text":
            fields[name] = part.get_content()
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            raise Unavailable("envelope_unreadable")
        fields[name] = payload.decode()
    if not fields:
        raise Unavailable("envelope_unreadable")
    return fields


class CoreSource:
    def __init__(self, section: EligibilitySection, site_name: str):
        self.section = section
        self.parties = parties_of(section, site_name)
        self.http = http_client(section)

    async def close(self) -> None:
        await self.http.aclose()

    async def check(self, inquiry: Inquiry, control_number: int) -> EligibilitySummary:
        now = dt.datetime.now(dt.UTC)
        payload = build_270(inquiry, self.parties, control_number, now)
        fields = core_fields(self.section, payload, str(uuid.uuid4()), now)
        try:
            if self.section.envelope == "soap":
                response = await self.http.post(self.section.url, content=soap_request(fields),
                                                headers={"Content-Type": "application/soap+xml; charset=utf-8"})
            else:
                response = await self.http.post(self.section.url, files={name: (None, value) for name, value in fields.items()})
        except httpx.TimeoutException:
            raise Unavailable("timeout")
        except httpx.HTTPError as exc:
            raise Unavailable(f"transport_{type(exc).__name__}")
        if response.status_code != 200:
            raise Unavailable(f"http_{response.status_code}")
        content_type = response.headers.get("content-type", "")
        if self.section.envelope == "soap":
            answer = soap_answer(response.content)
        else:
            answer = mime_answer(content_type, response.content)
        if answer.get("ErrorCode") != "Success" or answer.get("PayloadType") != RESPONSE_TYPE:
            raise Unavailable(f"core_{(answer.get('ErrorCode') or 'no_error_code')[:40]}")
        try:
            return parse_271(answer.get("Payload", ""), inquiry.visit_service_type, trace=inquiry.trace)
        except X12Error:
            raise Unavailable("payload_unreadable")
