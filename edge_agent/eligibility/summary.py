"""What an eligibility answer says, whichever way it came (X12 271 or FHIR CoverageEligibilityResponse).

`EligibilitySummary` is stored sealed per patient per day and shown in full in the desk's details
view; `DeskView` is the arrivals row's part of it: verified / inactive / not verified, the copay for
this visit, the reason in words when inactive.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .codes import REJECT_REASONS, RETRYABLE_REASONS

CoverageStatus = Literal["active", "inactive", "rejected"]
DeskState = Literal["verified", "inactive", "not_verified"]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rejection(Model):
    """An AAA segment: the request was refused at `loop` (2000A payer ... 2110C benefit inquiry)."""

    loop: str
    code: str  # AAA03
    follow_up: str = ""  # AAA04
    valid_request: bool = False  # AAA01 Y: the request was valid, the payer still could not answer

    @property
    def reason(self) -> str:
        return REJECT_REASONS.get(self.code, f"Rejected (code {self.code})")

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_REASONS or self.follow_up == "P"


class Benefit(Model):
    """One EB loop (or one FHIR benefit)."""

    kind: str  # EB01
    coverage_level: str = ""  # EB02: IND, FAM ...
    service_types: tuple[str, ...] = ()  # EB03
    insurance_type: str = ""  # EB04
    plan: str = ""  # EB05
    time_period: str = ""  # EB06
    amount: Decimal | None = None  # EB07
    percent: Decimal | None = None  # EB08 (0.2 = 20 %)
    quantity: Decimal | None = None  # EB10
    network: str = ""  # EB12: Y in network, N out, U unknown, W not applicable
    dates: dict[str, str] = {}  # DTP qualifier -> date or range, as sent
    messages: tuple[str, ...] = ()

    def covers(self, service_type: str) -> bool:
        return service_type in self.service_types


class EligibilitySummary(Model):
    status: CoverageStatus
    plan_name: str = ""
    group_number: str = ""
    plan_begin: dt.date | None = None
    plan_end: dt.date | None = None
    eligibility_begin: dt.date | None = None
    eligibility_end: dt.date | None = None
    visit_service_type: str = ""
    copay: Decimal | None = None  # for the visit's service type, in network when the payer says so
    coinsurance_percent: Decimal | None = None  # 20 = 20 %
    deductible_remaining: Decimal | None = None
    network: str = ""
    benefits: tuple[Benefit, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    trace: str = ""  # our TRN02, echoed: which inquiry this answers

    @property
    def retryable(self) -> bool:
        """Rejected only because the payer could not answer now: ask again later."""
        return self.status == "rejected" and all(r.retryable for r in self.rejections)

    @property
    def reason(self) -> str:
        if self.status == "rejected":
            return "; ".join(dict.fromkeys(r.reason for r in self.rejections)) or "Rejected"
        if self.status == "inactive":
            ended = self.plan_end or self.eligibility_end
            return f"Coverage inactive (ended {ended.isoformat()})" if ended else "Coverage inactive"
        return ""


class DeskView(Model):
    """The arrivals row's eligibility cell. No member id, no birth date: staff-only but still minimal."""

    state: DeskState
    copay: str = ""  # "25.00"
    reason: str = ""  # in words, for inactive (and for why it could not be verified)
    checked_at: str = ""  # ISO 8601 of the answer (or of the last attempt)
    retry_at: str = ""  # when the agent asks again (not verified)

    @classmethod
    def of(cls, summary: EligibilitySummary, checked_at: str) -> "DeskView":
        if summary.status == "active":
            copay = f"{summary.copay:.2f}" if summary.copay is not None else ""
            return cls(state="verified", copay=copay, checked_at=checked_at)
        return cls(state="inactive", reason=summary.reason, checked_at=checked_at)
