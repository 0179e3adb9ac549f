"""A clearinghouse for tests and the demo: CAQH CORE connectivity (SOAP 1.2 or MIME multipart over HTTP)
carrying X12 270 requests and 271 answers shaped like real payers' (005010X279A1).

    python -m tools.clearinghouse_sim --port 8490 [--basic-auth user:password]

POST /core            the CORE endpoint: `application/soap+xml` (COREEnvelopeRealTimeRequest in a SOAP 1.2
                      Body) or `multipart/form-data` (the same fields as form parts). Each 270 is checked
                      with pyx12 (tools/x12_maps/validate.py) and its verdict kept; an invalid one gets
                      ErrorCode "PayloadValidationError" and no 271.
The answer depends on the member id asked about (NM109 of 2100C), set through the control API:
  active       EB*1 (plan, dates), EB*B copay $25 for 98 in network, EB*A 20 % for 98, EB*C $500 deductible
               for 30 with $350 remaining, EB*B $50 out of network
  inactive     EB*6 for 30, plan ended last month
  invalid_id   AAA*N**72*C in 2100C (invalid member id)
  not_found    AAA*N**75*C in 2100C (subscriber not found)
  busy         AAA*Y**42*P in 2100A (payer unable to respond now: retry later)
  many         several EB loops: 30, 98, UC, 86, MH, with copays, co-insurance and a deductible
A member id nobody set answers `not_found`.
Control API (no auth): POST /_control/members {"MEMBER": "active", ...}; POST /_control/faults
{"mode": "slow"|"down"|"garbage"|"bad_envelope", "count": 1, "delay_s": 10}; DELETE /_control/faults;
GET /_control/requests (every request: envelope mode, PayloadID, control numbers, member id, pyx12 verdict).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tools.x12_maps.validate import validate

SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
CORE_NS = "http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd"
REQUEST_TYPE = "X12_270_Request_005010X279A1"
RESPONSE_TYPE = "X12_271_Response_005010X279A1"
CORE_FIELDS = ("PayloadType", "ProcessingMode", "PayloadID", "TimeStamp", "SenderID", "ReceiverID", "CORERuleVersion")
SCENARIOS = ("active", "inactive", "invalid_id", "not_found", "busy", "many")
ANSWERED_BY = ("CLEARHOUSE", "ZZ")


@dataclass
class Fault:
    mode: str  # slow | down | garbage | bad_envelope
    count: int = 1
    delay_s: float = 10.0


@dataclass
class State:
    members: dict[str, str] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    basic_auth: str = ""
    control: int = 7000

    def take_fault(self) -> Fault | None:
        for fault in self.faults:
            if fault.count > 0:
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault
        return None


# --- reading the 270 --------------------------------------------------------------------------------


def read_270(text: str) -> dict:
    """What the answer needs from a 270 (read with the interchange's own delimiters)."""
    element, segment_end = text[3], text[105]
    found: dict = {"service_types": []}
    level = ""
    for raw in text.split(segment_end):
        parts = raw.strip().split(element)
        tag = parts[0]
        if tag == "ISA":
            found["isa13"] = parts[13]
            found["sender"] = parts[6].strip()
        elif tag == "ST":
            found["st02"] = parts[2]
        elif tag == "BHT":
            found["reference"] = parts[3]
        elif tag == "HL":
            level = parts[3]
        elif tag == "NM1" and level == "20":
            found["payer"] = (parts[3], parts[9] if len(parts) > 9 else "")
        elif tag == "NM1" and level == "21":
            found["provider"] = (parts[3], parts[9] if len(parts) > 9 else "")
        elif tag == "NM1" and level == "22":
            found["subscriber"] = (parts[3], parts[4] if len(parts) > 4 else "")
            found["member_id"] = parts[9] if len(parts) > 9 else ""
        elif tag == "TRN":
            found["trace"] = (parts[2], parts[3])
        elif tag == "DMG":
            found["birth_date"] = parts[2]
        elif tag == "DTP" and parts[1] == "291":
            found["date"] = parts[3]
        elif tag == "EQ":
            found["service_types"].append(parts[1])
    return found


# --- writing the 271 --------------------------------------------------------------------------------


def _benefits(scenario: str, day: dt.date) -> list[list[str]]:
    """The 2110C loops (each a list of segments) of one scenario."""
    year_start, year_end = f"{day.year}0101", f"{day.year}1231"
    plan = ["EB", "1", "IND", "30", "HM", "GOLD PPO 500"]
    if scenario == "active":
        return [
            ["EB*1*IND*30*HM*GOLD PPO 500", f"DTP*291*RD8*{year_start}-{year_end}"],
            ["EB*B*IND*98*HM**27*25*****Y", "MSG*COPAY APPLIES PER OFFICE VISIT"],
            ["EB*B*IND*98*HM**27*50*****N"],
            ["EB*A*IND*98*HM**27**.2****Y"],
            ["EB*C*IND*30*HM**23*500*****Y"],
            ["EB*C*IND*30*HM**29*350*****Y"],
        ]
    if scenario == "inactive":
        ended = (day.replace(day=1) - dt.timedelta(days=1)).strftime("%Y%m%d")
        return [["EB*6*IND*30", f"DTP*291*RD8*{day.year - 1}0101-{ended}"]]
    if scenario == "many":
        return [
            ["*".join(plan), f"DTP*291*RD8*{year_start}-{year_end}"],
            ["EB*B*IND*98*HM**27*30*****Y"],
            ["EB*B*IND*UC*HM**27*75*****Y"],
            ["EB*B*IND*86*HM**27*250*****Y"],
            ["EB*A*IND*MH*HM**27**.1****Y"],
            ["EB*A*IND*98*HM**27**.3****N"],
            ["EB*C*FAM*30*HM**23*3000*****Y"],
            ["EB*C*IND*30*HM**29*1200*****Y"],
            ["EB*L", "LS*2120", "NM1*P3*1*WELBY*MARCUS****XX*1922334455", "LE*2120"],
        ]
    return []


def build_271(request: dict, scenario: str, control: int, now: dt.datetime) -> str:
    day = dt.datetime.strptime(request.get("date") or now.strftime("%Y%m%d"), "%Y%m%d").date()
    payer_name, payer_id = request.get("payer", ("PAYER", "00000"))
    provider_name, npi = request.get("provider", ("PROVIDER", "0000000000"))
    family, given = request.get("subscriber", ("", ""))
    trace, originator = request.get("trace", ("", ""))
    body = [f"ST*271*{control:04d}*005010X279A1", f"BHT*0022*11*{request.get('reference', 'R')}*{now:%Y%m%d}*{now:%H%M}",
            "HL*1**20*1"]
    if scenario == "busy":
        body += [f"NM1*PR*2*{payer_name}*****PI*{payer_id}", "AAA*Y**42*P"]
    else:
        body += [f"NM1*PR*2*{payer_name}*****PI*{payer_id}", "HL*2*1*21*1", f"NM1*1P*2*{provider_name}*****XX*{npi}",
                 "HL*3*2*22*0", f"TRN*2*{trace}*{originator}", "TRN*1*CH" + str(control) + "*9999999999"]
        member = request.get("member_id", "")
        body.append(f"NM1*IL*1*{family}*{given}****MI*{member}" if member else f"NM1*IL*1*{family}*{given}")
        if scenario in ("active", "many", "inactive"):
            body += ["REF*6P*GRP-204*RIVERSIDE EMPLOYEES", "N3*12 ELM ST", "N4*SPRINGFIELD*IL*62704",
                     f"DMG*D8*{request.get('birth_date', '')}", "INS*Y*18*001*25"]
            for loop in _benefits(scenario, day):
                body += loop
        elif scenario == "invalid_id":
            body.append("AAA*N**72*C")
        else:
            body.append("AAA*N**75*C")
            if request.get("birth_date"):
                body.append(f"DMG*D8*{request['birth_date']}")
    body.append(f"SE*{len(body) + 1}*{control:04d}")
    isa = ("ISA*00*          *00*          *ZZ*" + ANSWERED_BY[0].ljust(15) + "*ZZ*" + request.get("sender", "").ljust(15)
           + f"*{now:%y%m%d}*{now:%H%M}*^*00501*{control:09d}*0*T*:")
    head = [isa, f"GS*HB*{ANSWERED_BY[0]}*{request.get('sender', '')}*{now:%Y%m%d}*{now:%H%M}*{control}*X*005010X279A1"]
    return "~\n".join(head + body + [f"GE*1*{control}", f"IEA*1*{control:09d}"]) + "~\n"


# --- the CORE envelope ------------------------------------------------------------------------------


def _soap_fields(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)
    request = root.find(f"{{{SOAP_NS}}}Body/{{{CORE_NS}}}COREEnvelopeRealTimeRequest")
    if request is None:
        raise ValueError("no COREEnvelopeRealTimeRequest in a SOAP 1.2 Body")
    return {child.tag.split("}")[-1]: (child.text or "") for child in request}


def _soap_answer(fields: dict[str, str]) -> Response:
    envelope = ET.Element(f"{{{SOAP_NS}}}Envelope")
    ET.SubElement(envelope, f"{{{SOAP_NS}}}Header")
    answer = ET.SubElement(ET.SubElement(envelope, f"{{{SOAP_NS}}}Body"), f"{{{CORE_NS}}}COREEnvelopeRealTimeResponse")
    for name, value in fields.items():
        ET.SubElement(answer, name).text = value
    ET.register_namespace("soapenv", SOAP_NS)
    ET.register_namespace("cor", CORE_NS)
    return Response(ET.tostring(envelope, xml_declaration=True, encoding="utf-8"),
                    media_type='application/soap+xml; charset=utf-8')  # fmt: skip


def _soap_fault(code: str, reason: str, status: int) -> Response:
    text = (f'<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
            f"<soapenv:Fault><soapenv:Code><soapenv:Value>soapenv:{code}</soapenv:Value></soapenv:Code>"
            f'<soapenv:Reason><soapenv:Text xml:lang="en">{reason}</soapenv:Text></soapenv:Reason></soapenv:Fault>'
            "</soapenv:Body></soapenv:Envelope>")  # fmt: skip
    return Response(text, status_code=status, media_type="application/soap+xml; charset=utf-8")


def _mime_answer(fields: dict[str, str]) -> Response:
    boundary = f"core-{uuid.uuid4().hex}"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n' for name, value in fields.items()]
    return Response("".join(parts) + f"--{boundary}--\r\n", media_type=f"multipart/form-data; boundary={boundary}")


def build_app(state: State) -> Starlette:
    async def core(request: Request) -> Response:
        if state.basic_auth:
            expected = "Basic " + base64.b64encode(state.basic_auth.encode()).decode()
            if request.headers.get("authorization") != expected:
                return Response("unauthorized", status_code=401, headers={"WWW-Authenticate": 'Basic realm="core"'})
        content_type = request.headers.get("content-type", "")
        mode = "soap" if content_type.startswith("application/soap+xml") else "mime"
        try:
            if mode == "soap":
                fields = _soap_fields(await request.body())
            else:
                form = await request.form()
                fields = {name: str(form.get(name, "")) for name in (*CORE_FIELDS, "Payload")}
        except Exception as exc:  # noqa: BLE001 - any unreadable envelope is the client's error
            state.requests.append({"mode": mode, "error": f"envelope: {type(exc).__name__}"})
            return _soap_fault("Sender", "unreadable envelope", 400) if mode == "soap" else Response("bad envelope", 400)
        fault = state.take_fault()
        if fault and fault.mode == "slow":
            await asyncio.sleep(fault.delay_s)
        if fault and fault.mode == "down":
            state.requests.append({"mode": mode, "fault": "down", "PayloadID": fields.get("PayloadID", "")})
            return _soap_fault("Receiver", "service unavailable", 503) if mode == "soap" else Response("down", 503)
        payload = fields.get("Payload", "")
        verdict = validate(payload) if payload.startswith("ISA") else ["no X12 payload"]
        request_270 = read_270(payload) if not verdict else {}
        record = {
            "mode": mode, **{name: fields.get(name, "") for name in CORE_FIELDS},
            "valid": not verdict, "problems": verdict, "isa13": request_270.get("isa13", ""),
            "st02": request_270.get("st02", ""), "member_id": request_270.get("member_id", ""),
            "service_types": request_270.get("service_types", []), "fault": fault.mode if fault else "",
        }  # fmt: skip
        state.requests.append(record)
        now = dt.datetime.now(dt.UTC)
        answer = {
            "PayloadType": RESPONSE_TYPE, "ProcessingMode": "RealTime", "PayloadID": str(uuid.uuid4()),
            "TimeStamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "SenderID": fields.get("ReceiverID", ""),
            "ReceiverID": fields.get("SenderID", ""), "CORERuleVersion": fields.get("CORERuleVersion", "2.2.0"),
        }  # fmt: skip
        if fields.get("PayloadType") != REQUEST_TYPE or verdict:
            answer.update({"PayloadType": "CoreEnvelopeError", "ErrorCode": "PayloadValidationError" if verdict else
                           "PayloadTypeIncorrect", "ErrorMessage": "; ".join(verdict)[:500] or "unexpected PayloadType"})  # fmt: skip
        else:
            state.control += 1
            scenario = state.members.get(request_270.get("member_id", ""), "not_found")
            payload_271 = build_271(request_270, scenario, state.control, now)
            if fault and fault.mode == "garbage":
                payload_271 = "HTTP/1.1 200 OK <html>gateway says hello</html>" + payload_271[:40]
            answer.update({"Payload": payload_271, "ErrorCode": "Success", "ErrorMessage": "None"})
        if fault and fault.mode == "bad_envelope":
            return Response(b"<soapenv:Envelope><unclosed>", media_type="application/soap+xml")
        return _soap_answer(answer) if mode == "soap" else _mime_answer(answer)

    async def members(request: Request) -> Response:
        wanted = await request.json()
        unknown = sorted(set(wanted.values()) - set(SCENARIOS))
        if unknown:
            return JSONResponse({"error": f"unknown scenarios {unknown}"}, status_code=400)
        state.members.update(wanted)
        return JSONResponse({"members": len(state.members)})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults.clear()
        else:
            state.faults.append(Fault(**await request.json()))
        return JSONResponse({"faults": len(state.faults)})

    async def requests(_request: Request) -> Response:
        return JSONResponse({"requests": state.requests})

    return Starlette(routes=[
        Route("/core", core, methods=["POST"]),
        Route("/_control/members", members, methods=["POST"]),
        Route("/_control/faults", faults, methods=["POST", "DELETE"]),
        Route("/_control/requests", requests, methods=["GET"]),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="CAQH CORE clearinghouse simulator (X12 270/271)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8490)
    parser.add_argument("--basic-auth", default="", help="user:password the client must send (HTTP Basic)")
    parser.add_argument("--member", action="append", default=[], help="MEMBER=scenario (repeatable)")
    args = parser.parse_args(argv)
    state = State(basic_auth=args.basic_auth, members=dict(item.split("=", 1) for item in args.member))
    uvicorn.run(build_app(state), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
