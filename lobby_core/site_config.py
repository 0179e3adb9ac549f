"""The site file, as both apps read it: one TOML file per site, validated at start-up.

This module holds what the kiosk needs ([site], [kiosk], the shipped folders) and the one loader both
apps use: `load(path, model)` parses the TOML, validates it against `model`, names each bad key on its
own line, and resolves every relative path against the file's folder. The kiosk loads `KioskSiteConfig`;
the agent's `edge_agent.config.SiteConfig` adds its own sections on top of `SharedSiteConfig`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
import tomllib
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lobby_core.contract import Language

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


def is_loopback(host: str) -> bool:
    """'localhost', '127.0.0.1', '::1', '[::1]' -> True; any other address or host name -> False."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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


# --- opening hours (the agent's metrics gate its kiosk alerts on them: edge_agent/metrics.py) -----
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


class SiteSection(Section):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")] = "demo-clinic"
    name: Annotated[str, Field(min_length=1, max_length=80)] = "Riverside Family Clinic"
    timezone: str = "UTC"
    languages: list[Language] = ["en", "es"]
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

    @property
    def default_language(self) -> str:
        return self.languages[0]


class AgentAddress(Section):
    """Where the agent listens ([agent] listen). The kiosk reads only this of [agent] and ignores the rest;
    the agent's own section (edge_agent.config.AgentSection) extends it and forbids unknown keys."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    listen: str = "127.0.0.1:8470"

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


class DeviceConfig(Section):
    kind: Literal["id_scanner", "card_reader", "receipt_printer", "label_printer", "signature_pad", "card_scanner"]
    name: str = ""
    transport: Literal["serial", "tcp", "usb", "file", "pcsc", "sane", "folder"] = "serial"
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
    # card_scanner (an insurance card, front and back): transport "sane" reads `sane_device`; "folder" waits
    # for the vendor scanner's `<stem>_front.jpg` / `_back.jpg` in `folder` and deletes them once read.
    sane_device: str = ""  # as `scanimage -L` names it, e.g. "fujitsu:fi-65F:12345"
    folder: str = ""
    capture_timeout_s: Annotated[float, Field(gt=0, le=120)] = 30.0

    @property
    def label(self) -> str:
        return self.name or self.kind

    @model_validator(mode="after")
    def _card_scanner_transport(self) -> "DeviceConfig":
        if self.kind == "card_scanner":
            if self.transport not in ("sane", "folder"):
                raise ValueError('a card_scanner\'s transport is "sane" (sane_device) or "folder" (folder)')
            if self.transport == "sane" and not self.sane_device:
                raise ValueError("a SANE card_scanner needs sane_device (scanimage -L names it)")
            if self.transport == "folder" and not self.folder:
                raise ValueError("a hot-folder card_scanner needs folder")
        elif self.transport in ("sane", "folder"):
            raise ValueError(f"transport {self.transport!r} is only for a card_scanner")
        return self


class KeypadKeys(Section):
    """Key codes (Kivy's, as a USB HID keypad types them) of the EZ-Access keys; the speech keys are optional
    (holding help with up/down/select/back adjusts volume and rate as well)."""

    up: int = 273
    down: int = 274
    select: int = 13
    back: int = 8
    help: int = 282
    louder: int | None = None
    softer: int | None = None
    faster: int | None = None
    slower: int | None = None

    @field_validator("*")
    @classmethod
    def _a_key_code(cls, code: int | None) -> int | None:
        if code is not None and not 1 <= code <= 0x10FFFF:
            raise ValueError("a key code is a positive number (Kivy's keycode)")
        return code

    def model_post_init(self, _context: Any) -> None:
        codes = [code for code in self.model_dump().values() if code is not None]
        if len(codes) != len(set(codes)):
            raise ValueError("each keypad key needs its own key code")


def _headphone_jack(source: str) -> str:
    kind, _, where = source.partition(":")
    if source and not (kind in ("file", "alsa") and where):
        raise ValueError("'file:PATH' or 'alsa:CARD:CONTROL' (e.g. alsa:0:Headphone Jack), or empty for none")
    return source


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
    control_socket: str = ""  # where the running kiosk answers `kiosk doctor`; empty: <spool_dir>/control.sock
    staff_pin: Annotated[str, Field(pattern=r"^[0-9]{4,8}$")] = "2468"
    display_name: Literal["none", "initials", "first_name"] = "none"  # what the ticket may print
    reminder_public_key: str = ""  # base64 Ed25519 key that signs reminder QR codes
    orientation: Literal["portrait", "landscape"] = "portrait"
    keypad_keys: KeypadKeys = KeypadKeys()
    headphone_jack: Annotated[str, AfterValidator(_headphone_jack)] = ""  # plugged in: speech mode
    devices: list[DeviceConfig] = []
    # The physical panel (kiosk/theme.py turns millimetres into its pixels): its diagonal, or its pixel
    # pitch when known (0: from the diagonal), and how high its bottom edge is mounted above the floor.
    panel_diagonal_in: Annotated[float, Field(ge=7, le=100)] = 21.5
    pixel_pitch_mm: Annotated[float, Field(ge=0, le=2)] = 0.0
    panel_bottom_mm: Annotated[int, Field(ge=0, le=2000)] = 800
    # Where the licence/QR scanner sits, as the identify screen's picture shows it.
    scanner_position: Literal["below-screen-right", "below-screen-left", "below-screen-center",
                              "right-of-screen", "left-of-screen"] = "below-screen-right"  # fmt: skip
    idle_timeout_form_s: Annotated[int, Field(ge=30, le=1800)] = 180  # while a consent form is open
    done_on_screen_max_s: Annotated[int, Field(ge=30, le=900)] = 300  # no printer: the number stays until Done
    # Site branding: accent colour (checked for contrast at start-up), logo, a welcome line per language.
    brand_accent: Annotated[str, Field(pattern=r"^(#[0-9A-Fa-f]{6})?$")] = ""
    brand_logo: Path | None = None
    welcome_line: dict[Annotated[str, Field(pattern=r"^[a-z]{2}$")], Annotated[str, Field(max_length=120)]] = {}
    # Display names per language of the schedule's rooms: "Room 1" = {en = "Room 1", es = "Sala 1"}.
    rooms: dict[str, dict[str, str]] = {}
    # "Is this still right?" (the details on file) is due again this many days after the patient last
    # confirmed them; 0: at every visit. The agent decides at lookup (edge_agent/details_review.py).
    review_details_every_days: Annotated[int, Field(ge=0)] = 90


class SharedSiteConfig(Section):
    """What every reader of a site file shares: the site, its kiosks, and the consent/translation folders."""

    site: SiteSection = SiteSection()
    kiosk: KioskSection = KioskSection()
    consents_dir: Path = DEFAULT_CONSENTS_DIR
    translations_dir: Path = DEFAULT_TRANSLATIONS_DIR


AgentOnly = dict[str, Any]  # a section the kiosk accepts in a shared site file and does not read


class KioskSiteConfig(SharedSiteConfig):
    """The kiosk's view of a site file: the agent's own sections are accepted, and only [agent] listen is read
    (a kiosk beside a loopback agent looks for it on loopback only). The agent validates those sections."""

    agent: AgentAddress = AgentAddress()
    central: AgentOnly = {}
    schedule: AgentOnly = {}
    desk: AgentOnly = {}
    limits: AgentOnly = {}
    fleet: AgentOnly = {}
    eligibility: AgentOnly = {}


Config = TypeVar("Config", bound=SharedSiteConfig)


def describe(error: Mapping[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(file)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against config/site.example.toml)"
    return f"{key}: {message}"


def load(path: str | os.PathLike[str] | None, model: type[Config]) -> Config:
    """Load and validate a site file; None means $CHECKIN_CONFIG or, failing that, the defaults."""
    if path is None:
        path = os.environ.get(ENV_CONFIG) or None
    if path is None:
        return model()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"])
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"])
    return from_mapping(raw, model, base_dir=path.parent)


def from_mapping(raw: dict[str, Any], model: type[Config], base_dir: Path | None = None) -> Config:
    try:
        config = model.model_validate(raw)
    except ValidationError as exc:
        in_file_order = list(raw)
        errors = sorted(exc.errors(), key=lambda e: in_file_order.index(e["loc"][0]) if e["loc"] and e["loc"][0] in in_file_order else 0)
        raise ConfigError([describe(error) for error in errors])
    if base_dir is not None:
        config = resolve_paths(config, base_dir)
    return config


Model = TypeVar("Model", bound=BaseModel)


def resolve_paths(model: Model, base_dir: Path) -> Model:
    """Relative paths in a site file are relative to the file, not to the working directory: every `Path`
    value of the model and of its sections is resolved against `base_dir`."""
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Path) and not value.is_absolute():
            update[name] = (base_dir / value).resolve()
        elif isinstance(value, BaseModel):
            update[name] = resolve_paths(value, base_dir)
    return model.model_copy(update=update)
