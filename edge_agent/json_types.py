"""A parsed JSON object: what `json.loads`, an HTTP body or a stored payload gives, whose values are
whatever the sender put there. Modules that know the shape use a TypedDict instead."""

from __future__ import annotations

from typing import Any, TypeAlias

JsonObject: TypeAlias = dict[str, Any]
