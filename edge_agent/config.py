"""The agent's site configuration: the shared file (lobby_core.site_config) plus the agent's own sections.

Every setting has a safe default, so no file at all gives a working demo: agent on loopback, SQLite
under ./data, a generated demo schedule, simulated devices, and no central system (the outbox holds).
The kiosk reads the same file through `lobby_core.site_config.KioskSiteConfig`; a kiosk's file usually
holds only [site] and [kiosk].
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from lobby_core import site_config
from lobby_core.site_config import (  # `X as X`: the agent's modules import these from here
    DEFAULT_CONSENTS_DIR as DEFAULT_CONSENTS_DIR,
    DEFAULT_TRANSLATIONS_DIR as DEFAULT_TRANSLATIONS_DIR,
    ENV_CONFIG as ENV_CONFIG,
    WEEKDAYS as WEEKDAYS,
    AgentAddress as AgentAddress,
    ConfigError as ConfigError,
    DeviceConfig as DeviceConfig,
    KioskSection as KioskSection,
    Section as Section,
    SharedSiteConfig as SharedSiteConfig,
    SiteSection as SiteSection,
    is_loopback as is_loopback,
    parse_opening_ranges as parse_opening_ranges,
    parse_listen as parse_listen,
)


# --- fleet monitoring (edge_agent/metrics.py, edge_agent/fleet.py) ---------------------------------
KIOSK_OFFLINE_AFTER_S = 60.0  # the desk's threshold too (edge_agent/desk/devices.py OFFLINE_AFTER_S)


class FleetSection(Section):
    # Set on the agent that serves the fleet view (/fleet): the Prometheus that scrapes every site.
    prometheus_url: str = ""
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0

    @field_validator("prometheus_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/")


class AgentSection(AgentAddress):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Path("data/agent")
    # "auto": plain HTTP on a loopback address, otherwise HTTPS with a self-signed certificate that
    # kiosks pin at enrollment. "on"/"off" force it. tls_cert/tls_key use the clinic's own certificate.
    tls: Literal["auto", "on", "off"] = "auto"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    advertise: bool = True
    # Where the site key lives (encrypts PHI at rest, seals consent PDFs). Kept outside the database.
    key_file: Path | None = None
    lookup_rate_per_minute: Annotated[int, Field(ge=1, le=600)] = 20
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # Bearer token Prometheus sends to scrape /metrics; empty: /metrics is open (keep it on a trusted LAN).
    metrics_token: str = ""
    kiosk_offline_after_s: Annotated[float, Field(ge=1, le=3600)] = KIOSK_OFFLINE_AFTER_S


# What the FHIR connector does (SMART v2 permissions: c create, r read, u update, s search): the schedule
# search with its includes, the Appointment and Patient patches, the check-in's conditional creates, the
# Provenance PUT.
DEFAULT_SMART_SCOPES = (
    "system/Appointment.rus system/Patient.crus system/Encounter.c system/Coverage.crs system/Consent.crs"
    " system/QuestionnaireResponse.c system/Provenance.cu"
)

Hl7Namespace = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{0,20}$")]


class CentralCapabilities(Section):
    """`[central.capabilities]`: pins what the server's CapabilityStatement says (or does not say).
    Unset keys take what the server announces."""

    # "auto": the one the capabilities allow (one transaction; transactions of at most
    # max_transaction_entries; individual conditional requests). A named one is refused if impossible.
    strategy: Literal["auto", "transaction", "split-transactions", "individual"] = "auto"
    transactions: bool | None = None
    batch: bool | None = None
    max_transaction_entries: Annotated[int, Field(ge=2, le=10000)] | None = None
    conditional_create: bool | None = None  # for every resource type the agent creates
    patch: bool | None = None  # JSON Patch
    appointment_search: list[str] | None = None  # Appointment search parameters the server supports
    search_include: bool | None = None  # _include / _revinclude on the Appointment search


class CentralSection(Section):
    kind: Literal["none", "fhir", "hl7v2"] = "none"
    base_url: str = ""
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    # Bearer token for the central FHIR server; keep it in Ansible Vault, not in git.
    auth_token: str = ""
    identifier_system: str = "urn:lobby-checkin"
    max_backoff_s: Annotated[float, Field(gt=0, le=3600)] = 300.0
    concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    # HL7 v2 ACKs (table 0008): what an AE/CE (error) and an AR/CR (reject) answer does to a message.
    # "retry-then-dead-letter": resend until the message has been sent hl7_max_attempts times.
    hl7_ae: Literal["retry-then-dead-letter", "dead-letter"] = "retry-then-dead-letter"
    hl7_ar: Literal["retry-then-dead-letter", "dead-letter"] = "dead-letter"
    hl7_max_attempts: Annotated[int, Field(ge=1, le=100)] = 5
    capabilities: CentralCapabilities = CentralCapabilities()
    # --- HL7 v2 messages (kind = "hl7v2"); see edge_agent/central/hl7_messages.py -------------------
    hl7_arrival_event: Literal["A04", "A10"] = "A04"  # ADT^A04 register outpatient / ADT^A10 patient arriving
    hl7_site_authority: Hl7Namespace = ""  # CX.4 of walk-in ids and visit numbers; empty: the site id
    hl7_central_authority: Hl7Namespace = ""  # CX.4 of the central system's MRNs and insurance company ids
    hl7_payer_ids: dict[str, Annotated[str, Field(min_length=1, max_length=40)]] = {}  # card payor -> IN1-3 id

    # --- authentication to the FHIR server (README "Connecting to the EHR: authentication") ---
    # None: "bearer" when auth_token is set, else "none". "smart-backend": SMART Backend Services.
    auth: Literal["bearer", "smart-backend", "mtls", "none"] | None = None
    client_id: str = ""  # smart-backend: the client id the EHR registered
    token_url: str = ""  # smart-backend: empty = token_endpoint of [base_url]/.well-known/smart-configuration
    scopes: str = DEFAULT_SMART_SCOPES
    key_dir: Path | None = None  # smart-backend signing keys; default: smart/ beside the site key
    tls_client_cert: Path | None = None  # client certificate (PEM) presented to the FHIR server
    tls_client_key: Path | None = None
    tls_ca_file: Path | None = None  # CA bundle for the FHIR and token servers; default: the system's

    @property
    def auth_method(self) -> str:
        return self.auth or ("bearer" if self.auth_token else "none")

    @model_validator(mode="after")
    def _auth_complete(self) -> "CentralSection":
        problems = []
        if self.auth_method == "bearer" and not self.auth_token:
            problems.append("central.auth_token: required when central.auth is 'bearer'")
        if self.auth_method == "smart-backend" and not self.client_id:
            problems.append("central.client_id: required when central.auth is 'smart-backend'")
        if self.auth_method == "mtls" and self.tls_client_cert is None:
            problems.append("central.tls_client_cert: required when central.auth is 'mtls'")
        if (self.tls_client_cert is None) != (self.tls_client_key is None):
            problems.append("central.tls_client_cert: tls_client_cert and tls_client_key go together")
        if self.token_url and not self.token_url.startswith(("http://", "https://")):
            problems.append(f"central.token_url: must start with http:// or https://, got {self.token_url!r}")
        if problems:
            raise ConfigError(problems)
        return self

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://", "mllp://")):
            raise ValueError(f"must start with http://, https:// or mllp://, got {value!r}")
        return value.rstrip("/")


class ScheduleSection(Section):
    source: Literal["central", "demo", "hl7v2"] = "demo"
    refresh_s: Annotated[float, Field(ge=5, le=86400)] = 300.0
    # --- SIU feed (source = "hl7v2"): the central system sends SIU^S12..S26 over MLLP to siu_listen ---
    siu_listen: str = "127.0.0.1:2575"
    siu_tls_cert: Path | None = None  # both set: MLLP over TLS
    siu_tls_key: Path | None = None

    @field_validator("siu_listen")
    @classmethod
    def _valid_siu_listen(cls, value: str) -> str:
        parse_listen(value)
        return value
    # Which of the central server's appointments are this site's: references such as "Location/abc".
    locations: list[Annotated[str, Field(pattern=r"^Location/[A-Za-z0-9\-.]{1,64}$")]] = []
    practitioners: list[Annotated[str, Field(pattern=r"^Practitioner/[A-Za-z0-9\-.]{1,64}$")]] = []
    # "whole-server": every appointment on the server (one site per server), only when set on purpose.
    scope: Literal["site", "whole-server"] = "site"


# --- insurance eligibility (edge_agent/eligibility/) ------------------------------------------------
BATCH_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class EligibilitySection(Section):
    kind: Literal["none", "x12-core", "fhir"] = "none"
    url: str = ""  # x12-core: the clearinghouse's CORE endpoint; fhir: the FHIR base URL
    envelope: Literal["soap", "mime"] = "soap"  # CAQH CORE connectivity: SOAP 1.2 or MIME multipart
    sender_id: str = ""  # CORE SenderID, ISA06 / GS02 (the clearinghouse assigns it)
    sender_qualifier: Annotated[str, Field(pattern=r"^[0-9A-Z]{2}$")] = "ZZ"
    receiver_id: str = ""  # CORE ReceiverID, ISA08 / GS03
    receiver_qualifier: Annotated[str, Field(pattern=r"^[0-9A-Z]{2}$")] = "ZZ"
    provider_npi: Annotated[str, Field(pattern=r"^([0-9]{10})?$")] = ""
    provider_name: str = ""  # default: the site's name
    originating_company_id: Annotated[str, Field(pattern=r"^([19][0-9]{9})?$")] = ""  # TRN03; default "9" + NPI's last 9
    payer_ids: dict[str, Annotated[str, Field(min_length=1, max_length=80)]] = {}  # payor name on card/file -> payer id
    usage: Literal["P", "T"] = "P"  # ISA15: production or test data
    service_types: list[Annotated[str, Field(pattern=r"^[0-9A-Z]{1,2}$")]] = ["30"]  # EQ01 codes asked
    visit_service_type: Annotated[str, Field(pattern=r"^[0-9A-Z]{1,2}$")] = "98"  # whose copay the desk shows
    max_age_s: Annotated[float, Field(ge=60, le=7 * 86400)] = 86400.0  # older answers are asked again at check-in
    batch_time: Annotated[str, Field(pattern=BATCH_TIME.pattern)] = "18:00"  # site time, the evening before
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 15.0  # one request, in total
    retry_base_s: Annotated[float, Field(ge=0.1, le=3600)] = 30.0  # first retry after a failure, then doubling
    retry_max_s: Annotated[float, Field(ge=1, le=86400)] = 1800.0
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 8  # then the answer stays "not verified"
    concurrency: Annotated[int, Field(ge=1, le=32)] = 4
    auth: Literal["none", "basic", "client-cert"] = "none"
    username: str = ""  # basic
    password: str = ""  # basic; keep it in Ansible Vault
    tls_client_cert: Path | None = None  # client-cert
    tls_client_key: Path | None = None
    tls_ca_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> "EligibilitySection":
        problems = []
        if self.kind == "fhir":
            problems.append("eligibility.kind: 'fhir' (CoverageEligibilityRequest) is not built yet; use 'x12-core'")
        if self.kind != "none" and not self.url.startswith(("http://", "https://")):
            problems.append(f"eligibility.url: must start with http:// or https:// when kind is {self.kind!r}")
        if self.kind == "x12-core":
            for key in ("sender_id", "receiver_id", "provider_npi"):
                if not getattr(self, key):
                    problems.append(f"eligibility.{key}: required when eligibility.kind is 'x12-core'")
        if self.auth == "basic" and not (self.username and self.password):
            problems.append("eligibility.username: username and password required when eligibility.auth is 'basic'")
        if self.auth == "client-cert" and (self.tls_client_cert is None or self.tls_client_key is None):
            problems.append("eligibility.tls_client_cert: tls_client_cert and tls_client_key required for 'client-cert'")
        if problems:
            raise ConfigError(problems)
        return self

    @property
    def batch_minutes(self) -> int:
        hours, minutes = self.batch_time.split(":")
        return int(hours) * 60 + int(minutes)


class DeskSection(Section):
    session_idle_minutes: Annotated[int, Field(ge=1, le=720)] = 15
    # Failed sign-ins back off (per account and source, per source, per account) instead of locking.
    signin_free_attempts: Annotated[int, Field(ge=1, le=50)] = 5
    signin_backoff_s: Annotated[float, Field(ge=0.1, le=3600)] = 2.0
    signin_backoff_max_s: Annotated[float, Field(ge=1, le=86400)] = 900.0
    signin_summary_s: Annotated[float, Field(ge=1, le=86400)] = 300.0  # one audit summary of failures per period
    # Extra origins the desk is reached under (e.g. "https://desk.clinic.example:8470"); its own always count.
    origins: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _replaced_keys(cls, values: object) -> object:
        replaced = {"lockout_attempts": "signin_free_attempts", "lockout_minutes": "signin_backoff_max_s"}
        if isinstance(values, dict) and (old := sorted(set(values) & set(replaced))):
            raise ValueError("; ".join(f"{key} is replaced by desk.{replaced[key]} (sign-in backs off, it no longer locks)"
                                       for key in old))  # fmt: skip
        return values


class LimitsSection(Section):
    """What one client may take, so no one client can take the agent from everyone else."""

    body_bytes: Annotated[int, Field(ge=1024, le=8_000_000)] = 65_536  # every route but check-ins (8 MB)
    header_bytes: Annotated[int, Field(ge=1024, le=1_000_000)] = 16_384
    header_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0  # the whole request head, from its first byte
    body_idle_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0  # longest silence inside a request body
    keep_alive_s: Annotated[int, Field(gt=0, le=300)] = 5  # uvicorn takes whole seconds
    connections: Annotated[int, Field(ge=16, le=60_000)] = 4096
    connections_per_source: Annotated[int, Field(ge=8, le=60_000)] = 256
    board_streams: Annotated[int, Field(ge=1, le=60_000)] = 512
    board_streams_per_source: Annotated[int, Field(ge=1, le=60_000)] = 16


class SiteConfig(SharedSiteConfig):
    agent: AgentSection = AgentSection()
    central: CentralSection = CentralSection()
    schedule: ScheduleSection = ScheduleSection()
    desk: DeskSection = DeskSection()
    limits: LimitsSection = LimitsSection()
    fleet: FleetSection = FleetSection()
    eligibility: EligibilitySection = EligibilitySection()

    def model_post_init(self, _context: object) -> None:
        problems = []
        if self.central.kind != "none" and not self.central.base_url:
            problems.append(f"central.base_url: required when central.kind is {self.central.kind!r}")
        if self.schedule.source == "central" and self.central.kind != "fhir":
            problems.append("schedule.source: 'central' needs central.kind = 'fhir'")
        scoped = self.schedule.locations or self.schedule.practitioners
        if self.schedule.source == "central" and self.schedule.scope == "site" and not scoped:
            problems.append(
                "schedule.locations: name this site's locations (or schedule.practitioners) so the pull asks for"
                " this site's appointments only, or set schedule.scope = 'whole-server' on purpose"
            )
        if (self.agent.tls_cert is None) != (self.agent.tls_key is None):
            problems.append("agent.tls_cert: tls_cert and tls_key go together")
        if (self.schedule.siu_tls_cert is None) != (self.schedule.siu_tls_key is None):
            problems.append("schedule.siu_tls_cert: siu_tls_cert and siu_tls_key go together")
        if problems:
            raise ConfigError(problems)

    @property
    def data_dir(self) -> Path:
        return self.agent.data_dir

    @property
    def store_path(self) -> Path:
        """The agent's SQLite database (backup/restore and the agent must agree on it)."""
        return self.agent.data_dir / "agent.db"

    @property
    def key_file(self) -> Path:
        return self.agent.key_file or self.agent.data_dir.parent / f"{self.agent.data_dir.name}-keys" / "site.key"

    @property
    def uses_tls(self) -> bool:
        if self.agent.tls == "auto":
            return not is_loopback(self.agent.host)
        return self.agent.tls == "on"


def load(path: str | os.PathLike[str] | None = None) -> SiteConfig:
    """Load and validate a site file; None means $CHECKIN_CONFIG or, failing that, the defaults."""
    return site_config.load(path, SiteConfig)


def from_mapping(raw: dict[str, Any], base_dir: Path | None = None) -> SiteConfig:
    return site_config.from_mapping(raw, SiteConfig, base_dir)
