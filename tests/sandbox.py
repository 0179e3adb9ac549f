"""The FHIR sandbox (tools/fhir_sandbox) as a real process for tests, and a bounded wait helper."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import httpx

from tests.processes import free_port, stop_process

REPO = Path(__file__).resolve().parents[1]


def wait_until(condition: Callable[[], object], timeout: float, what: str, every: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Sandbox:
    """The FHIR sandbox as a real uvicorn process, restartable on the same data file."""

    kind = "sandbox"

    def __init__(self, data: Path, log: Path, args: tuple[str, ...] = (), scheme: str = "http", **http):
        """`args`: more sandbox options (--auth-server, --tls-cert ...); `http`: httpx options for the
        test's own requests (e.g. verify= an SSL context with a client certificate)."""
        self.data, self.log = data, log
        self.args, self.scheme, self.http = tuple(args), scheme, http
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.fhir_sandbox", "--port", str(self.port), "--data", str(self.data), *self.args],
            cwd=REPO, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )
        wait_until(self._ready, 30, "the FHIR sandbox to answer")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"sandbox exited: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/metadata", timeout=1, **self.http).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process:
            stop_process(self.process, timeout=10)
        self.process = None

    def control(self, method: str, path: str, **kwargs) -> dict:
        response = httpx.request(method, f"{self.url}/_control/{path}", timeout=30, **self.http, **kwargs)
        response.raise_for_status()
        return response.json()

    def seed(self, resources: list[dict]) -> None:
        self.control("POST", "seed", json={"resources": resources})

    def fault(self, mode: str, **spec) -> None:
        self.control("POST", "faults", json={"mode": mode, **spec})

    def identifier_counts(self, resource_type: str, system: str) -> dict[str, int]:
        return self.control("GET", "identifiers", params={"type": resource_type, "system": system})["counts"]

    def stats(self) -> dict:
        return self.control("GET", "stats")

    def searches(self) -> list[dict]:
        """Every search the sandbox answered: {"url", "returned": ["Type/id", ...]}."""
        return self.control("GET", "searches")["searches"]

    def read(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}/{path}", timeout=10, **self.http)
