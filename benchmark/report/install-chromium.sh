#!/usr/bin/env bash
# Debian's chromium, for tests/benchmark/test_report_chromium.py (it opens the report headless and
# checks that every picture loads). CI calls this before `make test`; the test fails under CI=true
# when chromium is missing, and is skipped (with the reason) elsewhere.
set -euo pipefail
for candidate in chromium chromium-browser; do
  if command -v "$candidate" >/dev/null; then exit 0; fi
done
if ! command -v apt-get >/dev/null; then
  echo "error: install chromium with your package manager (the report test needs it)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# fonts-dejavu-core: the page's text needs a font; the rest of the recommends is not needed headless.
packages=(chromium fonts-dejavu-core)
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null \
  || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }
command -v chromium
