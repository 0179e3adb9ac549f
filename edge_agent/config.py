"""Site configuration: one TOML file per site, validated at start-up.

Every setting has a safe default, so no file at all gives a working demo: agent on loopback, SQLite
under ./data, a generated demo schedule, simulated devices, and no central system (the outbox holds).
The kiosk reads the same schema; a kiosk's file usually holds only [site] and [kiosk].
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
import tomllib
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_CONFIG = "CHECKIN_CONFIG"
REPO_ROOT = Path(__file__).resolve().parent.parent


def _shipped(folder: str) -> Path:
    """config/<folder> of a source checkout, else the copy an installed wheel put in <prefix>/share."""
    checkout = REPO_ROOT / "config" / folder
    installed = Path(sys.prefix) / "share" / "lobby-checkin" / folder
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


DEFAULT_CONSENTS_DIR = _shipped("consents")
DEFAULT_TRANSLATIONS_DIR = _shipped("translations")


class ConfigError(Exception):
    """A site file that cannot be used. `str()` is one line per problem, each naming the key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- fleet monitoring (edge_agent/metrics.py, edge_agent/fleet.py) ---------------------------------
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OPENING_RANGE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")


def parse_opening_ranges(value: str) -> list[tuple[int, int]]:
    """'07:00-12:00,13:00-19:00' -> [(420, 720), (780, 1140)] (minutes after midnight, end exclusive)."""
    ranges = []
    for part in value.split(","):
        found = OPENING_RANGE.match(part.strip())
        if not found:
            raise ValueError(f"must be HH:MM-HH:MM (several separated by commas), got {part.strip()!r}")
        start, end = int(found[1]) * 60 + int(found[2]), int(found[3]) * 60 + int(found[4])
        if not start < end <= 24 * 60:
            raise ValueError(f"{part.strip()!r} must end after it starts, at 24:00 at the latest")
        ranges.append((start, end))
    return ranges


def _valid_opening_hours(value: dict[str, str]) -> dict[str, str]:
    for day, ranges in value.items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday {day!r} (use {', '.join(WEEKDAYS)})")
        parse_opening_ranges(ranges)
    return value


# Per weekday, e.g. {mon = "07:00-19:00", sat = "08:00-12:00"}; a day left out is closed. Empty: always open.
OpeningHours = Annotated[dict[str, str], AfterValidator(_valid_opening_hours)]
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


class SiteSection(Section):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")] = "demo-clinic"
    name: Annotated[str, Field(min_length=1, max_length=80)] = "Riverside Family Clinic"
    timezone: str = "UTC"
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2}$")]] = ["en", "es"]
    opening_hours: OpeningHours = {}

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'America/Chicago')")
        return value

    @field_validator("languages")
    @classmethod
    def _at_least_one(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one language")
        return value


def parse_listen(value: str) -> tuple[str, int]:
    """'127.0.0.1:8470' / '[::1]:8470' -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be HOST:PORT, got {value!r}")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ValueError(f"host must be an IP address or 'localhost', got {host!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    return host == "localhost" or ipaddress.ip_address(host).is_loopback


class AgentSection(Section):
    listen: str = "127.0.0.1:8470"
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

    @field_validator("listen")
    @classmethod
    def _valid_listen(cls, value: str) -> str:
        parse_listen(value)
        return value

    @property
    def host(self) -> str:
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen(self.listen)[1]


# What the FHIR connector does (SMART v2 permissions: c create, r read, u update, s search): the schedule
# search with its includes, the Appointment and Patient patches, the check-in's conditional creates, the
# Provenance PUT.
DEFAULT_SMART_SCOPES = (
    "system/Appointment.rus system/Patient.crus system/Encounter.c system/Coverage.crs system/Consent.crs"
    " system/QuestionnaireResponse.c system/Provenance.cu"
)

Hl7Namespace = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{0,20}$")]


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
    keep_alive_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    connections: Annotated[int, Field(ge=16, le=60_000)] = 4096
    connections_per_source: Annotated[int, Field(ge=8, le=60_000)] = 256
    board_streams: Annotated[int, Field(ge=1, le=60_000)] = 512
    board_streams_per_source: Annotated[int, Field(ge=1, le=60_000)] = 16


class DeviceConfig(Section):
    kind: Literal["id_scanner", "card_reader", "receipt_printer", "label_printer", "signature_pad"]
    name: str = ""
    transport: Literal["serial", "tcp", "usb", "file", "pcsc"] = "serial"
    port: str = ""  # serial device path, file path
    host: str = ""
    tcp_port: Annotated[int, Field(ge=1, le=65535)] = 9100
    baudrate: Annotated[int, Field(ge=300, le=921600)] = 9600
    parity: Literal["N", "E", "O"] = "N"
    suffix: str = ""  # scanner frame suffix, in addition to CR/LF
    reader: str = ""  # PC/SC reader name (substring); empty: the first reader
    usb_vendor: Annotated[int, Field(ge=0, le=0xFFFF)] | None = None
    usb_product: Annotated[int, Field(ge=0, le=0xFFFF)] | None = None
    model: str = ""
    paper_width_mm: Annotated[int, Field(ge=40, le=120)] = 80

    @property
    def label(self) -> str:
        return self.name or self.kind


class KioskSection(Section):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")] = "kiosk-1"
    # Empty: find the agent with zeroconf. The kiosk only trusts the agent it was enrolled with.
    agent_url: str = ""
    token: str = ""
    agent_fingerprint: str = ""  # SHA-256 of the agent's TLS certificate, pinned at enrollment
    ticket_prefix: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{0,3}$")] = "K1"
    idle_timeout_s: Annotated[int, Field(ge=15, le=900)] = 60
    idle_warning_s: Annotated[int, Field(ge=5, le=120)] = 15
    spool_dir: Path = Path("data/kiosk")
    staff_pin: Annotated[str, Field(pattern=r"^[0-9]{4,8}$")] = "2468"
    display_name: Literal["none", "initials", "first_name"] = "none"  # what the ticket may print
    reminder_public_key: str = ""  # base64 Ed25519 key that signs reminder QR codes
    orientation: Literal["portrait", "landscape"] = "portrait"
    devices: list[DeviceConfig] = []


class SiteConfig(Section):
    site: SiteSection = SiteSection()
    agent: AgentSection = AgentSection()
    central: CentralSection = CentralSection()
    schedule: ScheduleSection = ScheduleSection()
    desk: DeskSection = DeskSection()
    limits: LimitsSection = LimitsSection()
    kiosk: KioskSection = KioskSection()
    fleet: FleetSection = FleetSection()
    consents_dir: Path = DEFAULT_CONSENTS_DIR
    translations_dir: Path = DEFAULT_TRANSLATIONS_DIR

    def model_post_init(self, _context: object) -> None:
        problems = []
        if self.central.kind != "none" and not self.central.base_url:
            problems.append(f"central.base_url: required when central.kind is {self.central.kind!r}")
        if self.schedule.source == "central" and self.central.kind != "fhir":
            problems.append("schedule.source: 'central' needs central.kind = 'fhir'")
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


def _describe(error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(file)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against config/site.example.toml)"
    return f"{key}: {message}"


def load(path: str | os.PathLike | None = None) -> SiteConfig:
    """Load and validate a site file; None means $CHECKIN_CONFIG or, failing that, the defaults."""
    if path is None:
        path = os.environ.get(ENV_CONFIG) or None
    if path is None:
        return SiteConfig()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"])
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"])
    return from_mapping(raw, base_dir=path.parent)


def from_mapping(raw: dict, base_dir: Path | None = None) -> SiteConfig:
    try:
        config = SiteConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([_describe(error) for error in exc.errors()])
    if base_dir is not None:
        config = _resolve_paths(config, base_dir)
    return config


def _resolve_paths(config: SiteConfig, base_dir: Path) -> SiteConfig:
    """Relative paths in a site file are relative to the file, not to the working directory."""

    def resolve(value: Path | None) -> Path | None:
        if value is None or value.is_absolute():
            return value
        return (base_dir / value).resolve()

    agent = config.agent.model_copy(
        update={
            "data_dir": resolve(config.agent.data_dir),
            "key_file": resolve(config.agent.key_file),
            "tls_cert": resolve(config.agent.tls_cert),
            "tls_key": resolve(config.agent.tls_key),
        }
    )
    kiosk = config.kiosk.model_copy(update={"spool_dir": resolve(config.kiosk.spool_dir)})
    central_paths = ("key_dir", "tls_client_cert", "tls_client_key", "tls_ca_file")
    central = config.central.model_copy(update={name: resolve(getattr(config.central, name)) for name in central_paths})

    schedule = config.schedule.model_copy(
        update={"siu_tls_cert": resolve(config.schedule.siu_tls_cert), "siu_tls_key": resolve(config.schedule.siu_tls_key)}
    )
    return config.model_copy(
        update={
            "agent": agent,
            "central": central,
            "kiosk": kiosk,
            "schedule": schedule,
            "consents_dir": resolve(config.consents_dir),
            "translations_dir": resolve(config.translations_dir),
        }
    )
