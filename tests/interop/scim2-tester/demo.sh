#!/usr/bin/env bash
# scim2-tester against the demo's /scim/v2 (embedded defaults: tenant acme,
# connection acme-dev, the demo's [scim] token). Starts and stops the demo.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ssokit-target}"
ADDR="127.0.0.1:${DEMO_PORT:-3310}"
(cd "$ROOT" && cargo build --quiet --example demo)
LOG="$(mktemp)"
SSOKIT_DEMO_ADDR="$ADDR" "$CARGO_TARGET_DIR/debug/examples/demo" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 100); do curl -fs "http://$ADDR/" >/dev/null 2>&1 && break; sleep 0.1; done
SCIM_URL="http://$ADDR/scim/v2" SCIM_TOKEN="demo-scim-token-0123456789abcdefghijkl" bash "$HERE/run.sh"
