#!/usr/bin/env bash
# Installs everything the demo and the tests need: Debian packages, then a .venv in the repository root.
# Safe to run again: it installs only what is missing and reinstalls Python packages only when
# pyproject.toml changed.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

apt_packages=(
  python3 python3-venv python3-dev gcc swig libpcsclite-dev          # Python, and pyscard's build
  pcscd vsmartcard-vpcd                                              # smart-card reader + virtual reader
  xvfb xauth libgl1 libegl1 libgl1-mesa-dri libmtdev1 x11-utils      # the Kivy kiosk on a virtual display
  espeak-ng fonts-dejavu-core fonts-noto-core fonts-noto-cjk         # read-aloud, glyphs for every language
  fonts-wqy-zenhei libraqm0                                          # CJK in consent PDFs (TrueType), Arabic shaping
  chromium                                                           # dashboard/board browser tests
  systemd poppler-utils sqlite3 wrk procps                           # unit checks, PDF to PNG, benchmarks
  cage                                                               # kiosk compositor (the kiosk unit names it)
  prometheus prometheus-alertmanager                                 # fleet monitoring: promtool, amtool, a test Prometheus
  tesseract-ocr tesseract-ocr-eng libtesseract-dev libleptonica-dev  # insurance-card OCR (tessdata; tesserocr's build)
  sane-utils libsane1 libsane-dev fonts-liberation2                  # card scanner (SANE test backend), card corpus fonts
)

missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=/usr/bin/python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip setuptools wheel
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# axe-core for the browser accessibility checks (fleet view, tests/desk/axe.py), repo-local: tests inject axe.min.js
[ -f .venv/node/node_modules/axe-core/axe.min.js ] || npm install --silent --no-audit --no-fund --prefix .venv/node axe-core@4

# A FHIR server the project did not write, for tests (tools/medplum_fhir): Medplum's router from npm,
# pinned by package-lock.json; installed again only when the lock file changes.
if command -v npm >/dev/null; then
  lock=tools/medplum_fhir/package-lock.json
  npm_stamp=tools/medplum_fhir/node_modules/.installed-$(sha256sum "$lock" | cut -c1-16)
  if [ ! -f "$npm_stamp" ]; then
    echo "setup: installing tools/medplum_fhir (npm ci)"
    npm ci --prefix tools/medplum_fhir --no-audit --no-fund --loglevel=error
    touch "$npm_stamp"
  fi
fi
