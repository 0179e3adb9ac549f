"""Read an X12 271 eligibility answer (005010X279A1) into an `EligibilitySummary`.

    summary = parse_271(text, visit_service_type="98", trace="T0042")

The reader follows the HL levels (20 payer, 21 provider, 22 subscriber, 23 dependent) and the loops
inside them (2100 names, 2110 EB benefit loops, 2120 entities between LS and LE) far enough to say:
active or not (EB01 1-5 active, 6-8 inactive), the plan (EB05 of the coverage loop, REF*18/1L) and its
dates (DTP 346/347 plan, 356/357 eligibility, 291 plan range), the copay (EB01 B, EB07) and
co-insurance (A, EB08) for the visit's service type (else for 30), the deductible remaining (C with
EB06 29), the network (EB12), and every AAA rejection with the loop it stood in. Garbage raises X12Error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .codes import ACTIVE_KINDS, INACTIVE_KINDS
from .summary import Benefit, CoverageStatus, EligibilitySummary, Rejection
from .x12 import Segment, X12Error, element, split_segments

PLAN_SERVICE_TYPE = "30"
HL_LOOPS = {"20": "2000A", "21": "2000B", "22": "2000C", "23": "2000D"}
NAME_LOOPS = {"2000A": "2100A", "2000B": "2100B", "2000C": "2100C", "2000D": "2100D"}
BENEFIT_LOOPS = {"2100C": "2110C", "2100D": "2110D"}


def _decimal(value: str) -> Decimal | None:
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise X12Error("a number in the answer is not a number")


def _plain(value: Decimal) -> Decimal:
    """20.0 -> 20, 12.50 -> 12.5 (no exponent notation)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _date(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date() if value else None
    except ValueError:
        raise X12Error("a date in the answer is not CCYYMMDD")


def _date_range(qualifier: str, value: str) -> tuple[dt.date | None, dt.date | None]:
    if qualifier == "RD8":
        begin, _, end = value.partition("-")
        return _date(begin), _date(end)
    return _date(value), None


@dataclass
class _BenefitLoop:
    """An EB loop being read: its DTP and MSG segments follow the EB."""

    kind: str
    coverage_level: str
    service_types: tuple[str, ...]
    insurance_type: str
    plan: str
    time_period: str
    amount: Decimal | None
    percent: Decimal | None
    quantity: Decimal | None
    network: str
    dates: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def benefit(self) -> Benefit:
        return Benefit(
            kind=self.kind, coverage_level=self.coverage_level, service_types=self.service_types,
            insurance_type=self.insurance_type, plan=self.plan, time_period=self.time_period, amount=self.amount,
            percent=self.percent, quantity=self.quantity, network=self.network, dates=self.dates,
            messages=tuple(self.messages),
        )  # fmt: skip


class _Reader:
    def __init__(self, segments: list[Segment], repetition: str):
        self.segments = segments
        self.repetition = repetition
        self.level = ""  # 2000A ... 2000D
        self.loop = ""  # the innermost loop we are in
        self.in_entity = False  # between LS and LE (2120 loops)
        self.rejections: list[Rejection] = []
        self.benefits: list[_BenefitLoop] = []
        self.dates: dict[str, tuple[dt.date | None, dt.date | None]] = {}
        self.refs: dict[str, str] = {}
        self.traces: list[str] = []
        self.seen_subscriber = False

    def read(self) -> None:
        ids = [segment[0] for segment in self.segments]
        if ids[:1] != ["ISA"] or "ST" not in ids or ids[-1] != "IEA":
            raise X12Error("not a complete interchange")
        st = self.segments[ids.index("ST")]
        if element(st, 1) != "271":
            raise X12Error("not a 271")
        for segment in self.segments:
            handler = getattr(self, f"_{segment[0]}", None)
            if handler is not None:
                handler(segment)

    def _HL(self, segment: Segment) -> None:
        self.level = HL_LOOPS.get(element(segment, 3), "")
        self.loop = self.level
        self.in_entity = False
        if self.level in ("2000C", "2000D"):
            self.seen_subscriber = True

    def _NM1(self, segment: Segment) -> None:
        if not self.in_entity and self.level:
            self.loop = NAME_LOOPS[self.level]

    def _TRN(self, segment: Segment) -> None:
        if element(segment, 1) == "2":  # "referenced transaction trace number": ours, echoed
            self.traces.append(element(segment, 2))

    def _REF(self, segment: Segment) -> None:
        if self.loop == "2100C":
            self.refs.setdefault(element(segment, 1), element(segment, 2))

    def _AAA(self, segment: Segment) -> None:
        self.rejections.append(Rejection(
            loop=self.loop or "envelope", code=element(segment, 3), follow_up=element(segment, 4),
            valid_request=element(segment, 1) == "Y",
        ))  # fmt: skip

    def _DTP(self, segment: Segment) -> None:
        qualifier, value = element(segment, 1), element(segment, 3)
        if self.loop in ("2100C", "2100D"):
            self.dates[qualifier] = _date_range(element(segment, 2), value)
        elif self.loop in ("2110C", "2110D") and not self.in_entity and self.benefits:
            self.benefits[-1].dates[qualifier] = value

    def _EB(self, segment: Segment) -> None:
        self.loop = BENEFIT_LOOPS.get(self.loop, self.loop)  # the first EB opens 2110, later ones stay in it
        if self.loop not in ("2110C", "2110D"):
            raise X12Error("an EB segment outside a benefit loop")
        self.in_entity = False
        percent = _decimal(element(segment, 8))
        self.benefits.append(_BenefitLoop(
            kind=element(segment, 1), coverage_level=element(segment, 2),
            service_types=tuple(code for code in element(segment, 3).split(self.repetition) if code),
            insurance_type=element(segment, 4), plan=element(segment, 5), time_period=element(segment, 6),
            amount=_decimal(element(segment, 7)), percent=percent, quantity=_decimal(element(segment, 10)),
            network=element(segment, 12),
        ))  # fmt: skip

    def _MSG(self, segment: Segment) -> None:
        if self.benefits and self.loop in ("2110C", "2110D"):
            self.benefits[-1].messages.append(element(segment, 1))

    def _LS(self, segment: Segment) -> None:
        self.in_entity = True

    def _LE(self, segment: Segment) -> None:
        self.in_entity = False


def _pick(benefits: list[Benefit], kind: str, service_type: str) -> Benefit | None:
    """The benefit of `kind` for the service type (else for plan coverage 30, else any), in network first."""
    of_kind = [b for b in benefits if b.kind == kind]
    for wanted in (service_type, PLAN_SERVICE_TYPE, None):
        matching = [b for b in of_kind if wanted is None or b.covers(wanted)]
        if matching:
            in_network = [b for b in matching if b.network == "Y"]
            return (in_network or [b for b in matching if b.network != "N"] or matching)[0]
    return None


def parse_271(text: str, visit_service_type: str, trace: str = "") -> EligibilitySummary:
    delimiters, segments = split_segments(text)
    reader = _Reader(segments, delimiters.repetition)
    reader.read()
    if trace and reader.traces and trace not in reader.traces:
        raise X12Error("the answer is for another inquiry (trace number differs)")
    benefits = [b.benefit() for b in reader.benefits]
    kinds = {b.kind for b in benefits}
    status: CoverageStatus
    if kinds & ACTIVE_KINDS:
        status = "active"
    elif kinds & INACTIVE_KINDS:
        status = "inactive"
    elif reader.rejections:
        status = "rejected"
    else:
        raise X12Error("the answer says neither active, inactive nor rejected")
    if status != "rejected" and any(r.loop in ("2000A", "2100A", "2100B", "2100C") for r in reader.rejections):
        status = "rejected"  # a payer-, provider- or subscriber-level AAA overrides stray benefit loops
    coverage = next((b for b in benefits if b.kind in ACTIVE_KINDS | INACTIVE_KINDS), None)
    dates = dict(reader.dates)
    for qualifier, value in (coverage.dates.items() if coverage else ()):  # plan dates may sit in the 2110C loop
        dates.setdefault(qualifier, _date_range("RD8" if "-" in value else "D8", value))
    plan_begin, plan_end = dates.get("346", (None, None))[0], dates.get("347", (None, None))[0]
    if "291" in dates:
        plan_begin, plan_end = plan_begin or dates["291"][0], plan_end or dates["291"][1]
    copay = _pick(benefits, "B", visit_service_type)
    coinsurance = _pick(benefits, "A", visit_service_type)
    deductible = _pick([b for b in benefits if b.time_period == "29"], "C", visit_service_type)
    network_source = copay or coverage
    return EligibilitySummary(
        status=status,
        plan_name=(coverage.plan if coverage else "") or reader.refs.get("18", ""),
        group_number=reader.refs.get("6P", "") or reader.refs.get("1L", ""),
        plan_begin=plan_begin, plan_end=plan_end,
        eligibility_begin=dates.get("356", (None, None))[0], eligibility_end=dates.get("357", (None, None))[0],
        visit_service_type=visit_service_type,
        copay=copay.amount if copay else None,
        coinsurance_percent=_plain(coinsurance.percent * 100) if coinsurance and coinsurance.percent is not None else None,
        deductible_remaining=deductible.amount if deductible else None,
        network=network_source.network if network_source else "",
        benefits=tuple(benefits), rejections=tuple(reader.rejections),
        trace=reader.traces[0] if reader.traces else "",
    )  # fmt: skip
