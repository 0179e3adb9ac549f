"""FHIR servers the strategy tests run against: the project's sandbox in each of its modes, and Medplum's
FhirRouter (tools/medplum_fhir, a server the project did not write), each a real process."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, stop_process
from tests.sandbox import REPO, Sandbox, wait_until

MEDPLUM_DIR = REPO / "tools" / "medplum_fhir"


class MedplumServer(Sandbox):
    """tools/medplum_fhir/server.mjs under Node, with the sandbox's control API (seed, counts, stats)."""

    kind = "medplum"

    def __init__(self, log: Path):
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.args, self.scheme, self.http = (), "http", {}

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(MEDPLUM_DIR / "server.mjs"), "--port", str(self.port)],
            cwd=MEDPLUM_DIR, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self._ready, 60, "the Medplum FHIR router to answer")

    def stop(self) -> None:
        if self.process:
            stop_process(self.process, timeout=10)
        self.process = None


def medplum_available() -> bool:
    return shutil.which("node") is not None and (MEDPLUM_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir()


SERVERS = {
    "sandbox": ("sandbox", ()),
    "sandbox-limit-8": ("sandbox", ("--max-transaction-entries", "8")),
    "sandbox-no-transactions": ("sandbox", ("--no-transactions",)),
    "medplum": ("medplum", ()),
}


def start_server(name: str, folder: Path) -> Sandbox:
    kind, mode_args = SERVERS[name]
    if kind == "medplum":
        if not medplum_available():
            pytest.fail("tools/medplum_fhir has no node_modules: run scripts/setup.sh")
        server: Sandbox = MedplumServer(folder / "medplum.log")
    else:
        server = Sandbox(folder / "central.sqlite", folder / "sandbox.log", mode_args)
    server.name = name
    server.start()
    return server


def http_get(server: Sandbox, path: str) -> httpx.Response:
    return httpx.get(f"{server.url}/{path}", timeout=10)
