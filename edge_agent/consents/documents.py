"""Consent documents: load and validate `config/consents/`, and keep up with edits without a restart.

A document is a folder with `document.toml` and one text file per language (`en.md`, `es.txt`, ...).
The text served is normalised once (UTF-8, Unicode NFC, LF line ends, one final newline) and its
SHA-256 is what a signed record must carry. Every version this process has served stays known, so a
record signed on a version that was replaced a moment later is still checked against its own text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Iterable, Literal, Protocol, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lobby_core.contract import LANGUAGE_TAG, FormDue, Language

log = logging.getLogger(__name__)

METADATA_FILE = "document.toml"
LANGUAGE_FILE = re.compile(rf"^({LANGUAGE_TAG[1:-1]})\.(md|txt)$")

Signers = Literal["every_patient", "new_patients", "minors_guardians"]
Frequency = Literal["once", "yearly", "every_visit"]
Fingerprint = tuple[tuple[str, int, int], ...]  # (relative path, size, mtime in ns) of every file


class DocumentSnapshot(TypedDict):
    """What a signed record keeps of its document (ConsentDocument.snapshot)."""

    id: str
    version: str
    effective: str  # ISO date
    language: str
    title: str
    text: str
    sha256: str
    scope: str
    category: str


class ConsentConfigError(ValueError):
    """A consent folder that cannot be served; one line per problem, each naming the file."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class DocumentMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    version: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    effective: dt.date
    signers: Signers = "every_patient"
    frequency: Frequency = "once"
    may_decline: bool = False
    require_scroll_to_end: bool = False
    scope: Literal["patient-privacy", "treatment", "research", "adr"] = "treatment"
    category: Annotated[str, Field(min_length=1, max_length=40)] = "59284-0"
    still_valid_versions: list[str] = []
    title: dict[Language, Annotated[str, Field(min_length=1, max_length=200)]]


@dataclass(frozen=True)
class ConsentDocument:
    """One version of one document, with its exact text per language."""

    id: str
    version: str
    effective: dt.date
    title: dict[str, str]
    text: dict[str, str]
    sha256: dict[str, str]
    signers: Signers
    frequency: Frequency
    may_decline: bool
    scope: str
    category: str
    still_valid_versions: tuple[str, ...] = ()
    require_scroll_to_end: bool = False

    @property
    def languages(self) -> list[str]:
        return sorted(self.text)

    def accepts_signature_of(self, version: str) -> bool:
        return version == self.version or version in self.still_valid_versions

    def as_form(self) -> FormDue:
        return FormDue(
            document_id=self.id,
            version=self.version,
            title=self.title,
            text=self.text,
            sha256=self.sha256,
            may_decline=self.may_decline,
            require_scroll_to_end=self.require_scroll_to_end,
        )

    def snapshot(self, language: str) -> DocumentSnapshot:
        """What a signed record keeps of the document: enough to render it years later."""
        return {
            "id": self.id,
            "version": self.version,
            "effective": self.effective.isoformat(),
            "language": language,
            "title": self.title.get(language) or self.title[sorted(self.title)[0]],
            "text": self.text[language],
            "sha256": self.sha256[language],
            "scope": self.scope,
            "category": self.category,
        }


def normalise_text(raw: bytes) -> str:
    text = raw.decode("utf-8-sig")
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text.strip("\n") + "\n"


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_document(folder: Path) -> ConsentDocument:
    """Read one document folder; raises ConsentConfigError naming every problem found."""
    problems: list[str] = []
    meta_path = folder / METADATA_FILE
    try:
        meta = DocumentMetadata.model_validate(tomllib.loads(meta_path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConsentConfigError([f"{meta_path}: missing (every document folder needs one)"])
    except tomllib.TOMLDecodeError as exc:
        raise ConsentConfigError([f"{meta_path}: not valid TOML: {exc}"])
    except ValidationError as exc:
        raise ConsentConfigError(
            [f"{meta_path}: {'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors()]
        )
    if meta.id != folder.name:
        problems.append(f"{meta_path}: id {meta.id!r} must equal the folder name {folder.name!r}")

    text: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        match = LANGUAGE_FILE.match(path.name)
        if path.name == METADATA_FILE or not path.is_file():
            continue
        if not match:
            problems.append(f"{path}: not a language file (name it like en.md or es.txt)")
            continue
        language = match.group(1)
        if language in text:
            problems.append(f"{path}: a second text for language {language!r}")
            continue
        try:
            text[language] = normalise_text(path.read_bytes())
        except UnicodeDecodeError as exc:
            problems.append(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        if not text[language].strip():
            problems.append(f"{path}: empty text")
    if not text:
        problems.append(f"{folder}: no text file (add one per language, e.g. en.md)")
    for language in sorted(set(text) - set(meta.title)):
        problems.append(f"{meta_path}: title.{language}: missing (there is a {language} text)")
    for language in sorted(set(meta.title) - set(text)):
        problems.append(f"{meta_path}: title.{language}: no {language} text file for this title")
    if meta.version in meta.still_valid_versions:
        problems.append(f"{meta_path}: still_valid_versions: must list earlier versions, not {meta.version!r}")
    if problems:
        raise ConsentConfigError(problems)
    return ConsentDocument(
        id=meta.id,
        version=meta.version,
        effective=meta.effective,
        title=dict(meta.title),
        text=text,
        sha256={language: text_sha256(body) for language, body in text.items()},
        signers=meta.signers,
        frequency=meta.frequency,
        may_decline=meta.may_decline,
        require_scroll_to_end=meta.require_scroll_to_end,
        scope=meta.scope,
        category=meta.category,
        still_valid_versions=tuple(meta.still_valid_versions),
    )


def load_folder(root: Path) -> dict[str, ConsentDocument]:
    """Every document under `root` (one sub-folder each), or ConsentConfigError listing all problems."""
    if not root.is_dir():
        raise ConsentConfigError([f"{root}: consent folder not found"])
    documents: dict[str, ConsentDocument] = {}
    problems: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            documents[folder.name] = load_document(folder)
        except ConsentConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConsentConfigError(problems)
    return documents


def _fingerprint(root: Path) -> Fingerprint:
    """Names, sizes and modification times of every file: cheap to take on each lookup."""
    entries: list[tuple[str, int, int]] = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            entries.append((str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class VersionArchive(Protocol):
    """Where served versions outlive the process (archive.StoreArchive); optional."""

    def load(self) -> list[ConsentDocument]: ...

    def save(self, documents: Iterable[ConsentDocument]) -> None: ...


def changed_languages(earlier: ConsentDocument | None, document: ConsentDocument) -> list[str]:
    if earlier is None:
        return []
    return [lang for lang in sorted(set(earlier.sha256) & set(document.sha256)) if earlier.sha256[lang] != document.sha256[lang]]


def version_conflicts(documents: Iterable[ConsentDocument], served: dict[tuple[str, str], ConsentDocument]) -> list[str]:
    """A version label, once served, always means the same text: a changed text needs a new version."""
    return [
        f"{document.id}/{language}: the text changed but version is still {document.version!r};"
        " raise `version` in document.toml to publish a change"
        for document in documents
        for language in changed_languages(served.get((document.id, document.version)), document)
    ]


@dataclass
class ConsentLibrary:
    """The documents in force, re-read whenever the folder changes.

    A folder that becomes invalid while running (a half-saved edit, a text changed without a new
    version) keeps the last good set in service and logs the problems; the first load must succeed.
    With an archive, every version ever served is remembered across restarts.
    """

    root: Path
    archive: VersionArchive | None = None
    _current: dict[str, ConsentDocument] = field(default_factory=dict)
    _served: dict[tuple[str, str], ConsentDocument] = field(default_factory=dict)
    _fingerprint: Fingerprint | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    last_error: ConsentConfigError | None = None

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if self.archive is not None:
            self._served = {(d.id, d.version): d for d in self.archive.load()}
        fingerprint = _fingerprint(self.root) if self.root.is_dir() else ()
        documents = load_folder(self.root)
        if problems := version_conflicts(documents.values(), self._served):
            # No earlier set in this process to fall back on: serve those versions' texts as first served.
            log.error("consent texts changed without a new version, serving the earlier text: %s", "; ".join(problems))
            self.last_error = ConsentConfigError(problems)
            documents = {
                key: self._served[(d.id, d.version)] if changed_languages(self._served.get((d.id, d.version)), d) else d
                for key, d in documents.items()
            }
        self._install(documents, fingerprint)

    def _install(self, documents: dict[str, ConsentDocument], fingerprint: Fingerprint) -> list[ConsentDocument]:
        """Put a new set in force; returns the versions (or languages) not served before."""
        if problems := version_conflicts(documents.values(), self._served):
            raise ConsentConfigError(problems)
        fresh = [d for d in documents.values() if self._served.get((d.id, d.version)) != d]
        if self.archive is not None:
            self.archive.save(fresh)
        self._current = documents
        self._fingerprint = fingerprint
        self._served.update({(d.id, d.version): d for d in fresh})
        return fresh

    def refresh(self) -> bool:
        """Re-read the folder if anything in it changed. True when a new set was installed."""
        with self._lock:
            try:
                fingerprint = _fingerprint(self.root)
            except OSError:
                return False
            if fingerprint == self._fingerprint:
                return False
            try:
                fresh = self._install(load_folder(self.root), fingerprint)
            except ConsentConfigError as exc:
                if self.last_error is None or exc.problems != self.last_error.problems:
                    log.error("consent documents not reloaded, keeping the previous set: %s", "; ".join(exc.problems))
                self.last_error = exc
                return False
            self.last_error = None
            for document in fresh:
                log.info("consent document published: %s version %s", document.id, document.version)
            return True

    def current(self) -> dict[str, ConsentDocument]:
        """The documents in force now (re-reading the folder first if it changed)."""
        self.refresh()
        return dict(self._current)

    def get(self, document_id: str) -> ConsentDocument | None:
        return self.current().get(document_id)

    def served(self, document_id: str, version: str) -> ConsentDocument | None:
        """A version served by this agent, current or replaced since."""
        self.refresh()
        return self.known(document_id, version)

    def known(self, document_id: str, version: str) -> ConsentDocument | None:
        """`served` without looking at the folder: safe inside a store transaction (a reload writes)."""
        return self._served.get((document_id, version))
