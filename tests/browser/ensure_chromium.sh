#!/usr/bin/env bash
# Make sure Debian's Chromium is installed at /usr/bin/chromium for the browser test.
# Installs it with apt-get only when it is missing (needs root or sudo).
# Never runs `playwright install`: the test drives this system browser via executable_path.
set -u

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

echo "ensure_chromium: $CHROMIUM not found; installing Debian's chromium with apt-get ..." >&2

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: ERROR: apt-get is not available; install Chromium so that $CHROMIUM exists." >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "ensure_chromium: ERROR: not root and no sudo; run as root: apt-get update && apt-get install -y chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive

if ! $SUDO apt-get update; then
    echo "ensure_chromium: ERROR: 'apt-get update' failed (network or apt sources?)." >&2
    exit 1
fi

if ! $SUDO apt-get install -y --no-install-recommends chromium; then
    echo "ensure_chromium: ERROR: 'apt-get install chromium' failed." >&2
    exit 1
fi

if [ ! -x "$CHROMIUM" ]; then
    echo "ensure_chromium: ERROR: chromium package installed but $CHROMIUM is missing." >&2
    exit 1
fi

# Smoke test: the browser must start headless and print its version.
if ! "$CHROMIUM" --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1; then
    echo "ensure_chromium: ERROR: $CHROMIUM is installed but does not start (try: $CHROMIUM --headless --no-sandbox --version)." >&2
    exit 1
fi

echo "ensure_chromium: installed $("$CHROMIUM" --version 2>/dev/null | tail -n 1)" >&2
exit 0
