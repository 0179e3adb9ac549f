#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs, then pytest. Extra arguments go to pytest.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
cd "$repo"
exec .venv/bin/python -m pytest -n "${LOBBY_TEST_WORKERS:-2}" "$@"
