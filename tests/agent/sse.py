"""A small server-sent events reader over httpx streams, for tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

import httpx


@dataclass(frozen=True)
class SseEvent:
    id: str
    event: str
    data: dict


def read_events(response: httpx.Response) -> Iterator[SseEvent]:
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                yield SseEvent(fields.get("id", ""), fields.get("event", "message"), json.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
