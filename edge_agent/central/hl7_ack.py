"""What an HL7 v2 ACK means for the message it answers (MSA-1, HL7 table 0008), and the receiver's own
words for a refusal (ERR, MSA-3), for the dead-letter list.

AA/CA (application / commit accept) deliver. AE/CE (error) and AR/CR (reject) follow the site's
`[central] hl7_ae` and `hl7_ar`: "dead-letter" at once, or "retry-then-dead-letter" until the message
has been sent `hl7_max_attempts` times. HL7 chapter 2 allows AR for failures unrelated to the content
(receiver down), which is why a site may choose to resend on AR. An answer that confirms nothing (an
unknown code, no MSA) is treated as an error: bounded like one, whatever the policy.
"""

from __future__ import annotations

import hl7

from ..config import CentralSection
from .base import Delivery

ACCEPTED, ERRORS, REJECTED = {"AA", "CA"}, {"AE", "CE"}, {"AR", "CR"}


def _segment_field(segment: hl7.Segment, index: int) -> str:
    return str(segment[index]) if len(segment) > index else ""


def _err_text(ack: hl7.Message, err: hl7.Segment) -> str:
    """One ERR segment in words: v2.5+ ERR-3 (code^text), ERR-7 (diagnostics), ERR-8 (user message);
    before v2.5, ERR-1 (segment^sequence^field^code&text)."""
    component, subcomponent = ack.separators[3], ack.separators[4]
    parts = []
    location = _segment_field(err, 1)
    if location:
        where = location.split(component) + ["", "", "", ""]
        code = " ".join(c for c in where[3].split(subcomponent)[:2] if c)
        place = f"{where[0]}-{where[2]}" if where[0] and where[2] else where[0]
        parts.append(f"ERR-1 {place}: {code}" if place else f"ERR-1 {code}")
    error_code = _segment_field(err, 3)
    if error_code:
        parts.append("ERR-3 " + " ".join(c for c in error_code.split(component)[:2] if c))
    for index in (7, 8):
        value = _segment_field(err, index)
        if value:
            parts.append(f"ERR-{index} {value}")
    text: str = ack.unescape("; ".join(parts))
    return text


def ack_error_text(ack: hl7.Message) -> str:
    """The receiver's explanation of an AE/AR: every ERR segment, then MSA-3; "" if it gave none."""
    try:
        errs = list(ack.segments("ERR"))
    except KeyError:
        errs = []
    texts = [text for text in (_err_text(ack, err) for err in errs) if text]
    try:
        message = _segment_field(ack.segment("MSA"), 3)
    except KeyError:
        message = ""
    if message:
        texts.append(f"MSA-3 {ack.unescape(message)}")
    return " | ".join(texts)


def ack_outcome(ack: hl7.Message) -> str:
    """A dead letter's outcome: the receiver's words first, then the ACK itself, one segment a line."""
    explanation = ack_error_text(ack) or "the receiver gave no error text (no ERR segment, no MSA-3)"
    return f"{explanation}\n\n" + str(ack).strip("\r").replace("\r", "\n")


def ack_code(ack: hl7.Message) -> str:
    try:
        return _segment_field(ack.segment("MSA"), 1)
    except KeyError:
        return ""


def unconfirmed(reason: str, attempt: int, central: CentralSection, outcome: str) -> Delivery:
    """An answer that confirms nothing: sent again until the message was sent hl7_max_attempts times."""
    if attempt < central.hl7_max_attempts:
        return Delivery.retry(reason)
    return Delivery.rejected(reason, outcome)


def judge_ack(ack: hl7.Message, attempt: int, central: CentralSection) -> Delivery:
    """What the ACK to the `attempt`-th send of a message (1 for the first) makes of it."""
    code = ack_code(ack)
    if code in ACCEPTED:
        return Delivery.delivered()
    reason = f"ACK {code}" if code else "ACK without a code"
    policy = central.hl7_ar if code in REJECTED else central.hl7_ae if code in ERRORS else "retry-then-dead-letter"
    if policy == "dead-letter":
        return Delivery.rejected(reason, ack_outcome(ack))
    return unconfirmed(reason, attempt, central, ack_outcome(ack))
