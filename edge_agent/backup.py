"""Encrypted backups of a site: the SQLite store (copied online, consistent) plus the site key.

A backup file is `MAGIC`, one line of JSON naming the KDF and its parameters, then AES-256-GCM
ciphertext (nonce first) of a tar archive holding `agent.db`, `site.key` and `manifest.json`. The key
comes from the operator's passphrase through scrypt; the header is authenticated as associated data, so
a tampered header fails like a wrong passphrase. Without the passphrase the file reveals nothing: the
database's PHI is sealed under the site key, and the site key is inside the ciphertext.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import sqlite3
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from . import store as site_store
from .config import SiteConfig

MAGIC = b"LOBBY-CHECKIN-BACKUP/1\n"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
NONCE_BYTES = 12
DB_MEMBER, KEY_MEMBER, MANIFEST_MEMBER = "agent.db", "site.key", "manifest.json"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why in one line."""


@dataclass(frozen=True)
class Manifest:
    site_id: str
    schema_version: int
    created_at: float
    outbox_pending: int


def create(config: SiteConfig, destination: Path, passphrase: str) -> Manifest:
    """Write an encrypted backup of the live store and site key to `destination` (atomically)."""
    if not passphrase:
        raise BackupError("an empty passphrase would leave the backup unprotected")
    if not config.store_path.exists():
        raise BackupError(f"no store at {config.store_path}: nothing to back up")
    if not config.key_file.exists():
        raise BackupError(f"no site key at {config.key_file}: a backup without it could not be read")
    with tempfile.TemporaryDirectory(prefix="edge-agent-backup-") as scratch:
        snapshot = Path(scratch) / DB_MEMBER
        manifest = _snapshot(config, snapshot)
        archive = _tar(
            {
                DB_MEMBER: snapshot.read_bytes(),
                KEY_MEMBER: config.key_file.read_bytes(),
                MANIFEST_MEMBER: json.dumps(manifest.__dict__).encode(),
            }
        )
    _write_atomically(Path(destination), _encrypt(archive, passphrase))
    return manifest


def restore(config: SiteConfig, source: Path, passphrase: str, *, force: bool = False) -> Manifest:
    """Put a backup's store and site key where `config` expects them."""
    archive = _tar_members(_decrypt(Path(source).read_bytes(), passphrase))
    manifest = Manifest(**json.loads(archive[MANIFEST_MEMBER]))
    if manifest.site_id != config.site.id and not force:
        raise BackupError(f"backup is of site {manifest.site_id!r}, this config is site {config.site.id!r} (--force to restore anyway)")
    live = [path for path in (config.store_path, config.key_file) if path.exists()]
    if live and not force:
        raise BackupError(f"{live[0]} exists: stop the agent and pass --force to replace the live store")
    config.store_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    config.key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in (Path(f"{config.store_path}-wal"), Path(f"{config.store_path}-shm")):
        stale.unlink(missing_ok=True)
    _write_atomically(config.store_path, archive[DB_MEMBER])
    _write_atomically(config.key_file, archive[KEY_MEMBER])
    return manifest


def _snapshot(config: SiteConfig, destination: Path) -> Manifest:
    """Copy the live database page by page with SQLite's online backup API (writers keep going)."""
    source = site_store.connect(config.store_path, readonly=True)
    target = sqlite3.connect(destination)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")
        version = target.execute("PRAGMA user_version").fetchone()[0]
        pending = target.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    finally:
        target.close()
        source.close()
    return Manifest(site_id=config.site.id, schema_version=version, created_at=time.time(), outbox_pending=pending)


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _tar_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as archive:
        members = {m.name: stream.read() for m in archive.getmembers() if (stream := archive.extractfile(m)) is not None}
    missing = {DB_MEMBER, KEY_MEMBER, MANIFEST_MEMBER} - members.keys()
    if missing:
        raise BackupError(f"backup is incomplete: {', '.join(sorted(missing))} missing")
    return members


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _encrypt(plaintext: bytes, passphrase: str) -> bytes:
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(NONCE_BYTES)
    header = json.dumps({"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex()}).encode()
    key = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    aad = MAGIC + header + b"\n"
    return aad + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _decrypt(data: bytes, passphrase: str) -> bytes:
    if not data.startswith(MAGIC):
        raise BackupError("not an edge-agent backup file")
    header_line, sep, body = data[len(MAGIC) :].partition(b"\n")
    try:
        header = json.loads(header_line)
        if not sep or header.get("kdf") != "scrypt":
            raise ValueError
        key = _derive(passphrase, bytes.fromhex(header["salt"]), header["n"], header["r"], header["p"])
    except (ValueError, KeyError, TypeError):
        raise BackupError("backup header is damaged")
    aad = MAGIC + header_line + b"\n"
    try:
        return AESGCM(key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], aad)
    except InvalidTag:
        raise BackupError("wrong passphrase, or the backup file is damaged")


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
