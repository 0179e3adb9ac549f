#!/usr/bin/env bash
# Runs the demo: an edge agent with a demo schedule, a kiosk with simulated devices, the dashboard and
# the lobby board. Without a display it runs the kiosk on a virtual one and walks a scripted patient
# through it. Extra arguments go to tools/demo.py (see --help).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
cd "$repo"
exec .venv/bin/python tools/demo.py "$@"
