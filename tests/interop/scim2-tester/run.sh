#!/usr/bin/env bash
# Interop test: ssokit's SCIM service (examples/scim_server.rs, in-memory directory) against
# scim2-tester, the python-scim project's SCIM 2.0 compliance checker (PyPI, pinned in
# requirements.txt).
#
#   bash tests/interop/scim2-tester/run.sh
#
# Creates (or reuses) a virtualenv, installs the pinned requirements, builds and starts the
# example server on 127.0.0.1:${PORT:-3300} with a fresh random bearer token, runs
# `scim2 --url … test -v`, prints every check, then a last line `N passed, M failed`, stops the
# server, and exits non-zero unless every check is SUCCESS (a SKIPPED counts as a failure: the
# service implements every optional feature scim2-tester exercises).
#
# Needs python3 (>= 3.10) with the venv module (Debian: python3-venv) and network access to PyPI
# on the first run.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/ssokit-target), PORT (default 3300),
# SCIM_URL + SCIM_TOKEN (both set: test that already running server, e.g. the demo's /scim/v2
# with its configured token, instead of starting the example),
# SCIM_VENV (default ~/.cache/ssokit-venv; keyed by the requirements' hash), SERVER_WAIT_SECS
# (default 300, the example may have to compile), SCIM_LOG_DIR (default: a temp dir, removed on
# success).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ssokit-target}"
PORT="${PORT:-3300}"
BASE_URL="http://127.0.0.1:${PORT}/scim/v2"
VENV="${SCIM_VENV:-$HOME/.cache/ssokit-venv}"
SERVER_WAIT_SECS="${SERVER_WAIT_SECS:-300}"
if [[ -n "${SCIM_LOG_DIR:-}" ]]; then
	LOG_DIR="$SCIM_LOG_DIR"
	KEEP_LOGS=1
else
	LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/ssokit-scim2-tester.XXXXXX")"
	KEEP_LOGS=0
fi
mkdir -p "$LOG_DIR"
SERVER_LOG="$LOG_DIR/server.log"
TESTER_LOG="$LOG_DIR/scim2-tester.log"
SERVER_PID=""

log() { printf 'scim2-tester: %s\n' "$*"; }

stop_server() {
	local pid="$SERVER_PID"
	[[ -n "$pid" ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	stop_server
	if [[ $rc -ne 0 ]]; then
		if [[ -s "$SERVER_LOG" ]]; then
			printf -- '----- server log (%s, last 100 lines) -----\n' "$SERVER_LOG"
			tail -n 100 "$SERVER_LOG"
			printf -- '----- end of server log -----\n'
		fi
	elif [[ $KEEP_LOGS -eq 0 ]]; then
		rm -rf "$LOG_DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- python + pinned tester
command -v python3 >/dev/null || { log "python3 is required"; exit 1; }
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
	{ log "python3 >= 3.10 is required (found $(python3 --version 2>&1))"; exit 1; }
REQ_HASH="$(sha256sum "$HERE/requirements.txt" | cut -c1-16)"
STAMP="$VENV/.ssokit-requirements-$REQ_HASH"
if [[ ! -e "$STAMP" ]]; then
	log "creating the virtualenv $VENV and installing requirements.txt"
	rm -rf "$VENV"
	python3 -m venv "$VENV" || { log "python3 -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
	"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$HERE/requirements.txt"
	touch "$STAMP"
fi
PY="$VENV/bin/python"
"$PY" -c 'import scim2_tester, scim2_cli' || { log "the virtualenv is broken; delete $VENV"; exit 1; }

# ---------------------------------------------------------------- the server
answers() {
	"$PY" - "$1" <<'PYEOF' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    sys.exit(0)  # any HTTP status: something listens
except Exception:
    sys.exit(1)
PYEOF
}

if [[ -n "${SCIM_URL:-}" && -n "${SCIM_TOKEN:-}" ]]; then
	BASE_URL="${SCIM_URL%/}"
	log "testing the running server at $BASE_URL"
elif answers "$BASE_URL/ServiceProviderConfig"; then
	log "something already listens on port $PORT; stop it or set PORT"
	exit 1
else
	log "building examples/scim_server.rs"
	(cd "$ROOT" && cargo build --quiet --features scim --example scim_server)
	SERVER_BIN="$CARGO_TARGET_DIR/debug/examples/scim_server"
	SCIM_TOKEN="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')"

	log "starting the server on $BASE_URL (logs in $LOG_DIR)"
	if command -v setsid >/dev/null; then
		SCIM_TOKEN="$SCIM_TOKEN" PORT="$PORT" setsid "$SERVER_BIN" >"$SERVER_LOG" 2>&1 </dev/null &
	else
		set -m
		SCIM_TOKEN="$SCIM_TOKEN" PORT="$PORT" "$SERVER_BIN" >"$SERVER_LOG" 2>&1 </dev/null &
		set +m
	fi
	SERVER_PID=$!
	start=$SECONDS
	until answers "$BASE_URL/ServiceProviderConfig"; do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			log "the server exited before answering"
			exit 1
		fi
		if ((SECONDS - start > SERVER_WAIT_SECS)); then
			log "the server did not answer within $SERVER_WAIT_SECS s"
			exit 1
		fi
		sleep 0.2
	done
fi

# ---------------------------------------------------------------- the checks
log "running scim2 test against $BASE_URL"
set +e
SCIM_CLI_HEADERS="Authorization: Bearer $SCIM_TOKEN" NO_COLOR=1 \
	"$VENV/bin/scim2" --url "$BASE_URL" test -v >"$TESTER_LOG" 2>&1
tester_rc=$?
set -e
cat "$TESTER_LOG"

# One line per check starts with its status; SUCCESS is a pass, anything else (DEVIATION,
# ERROR, CRITICAL, SKIPPED, and the SHOULD/MAY grades COMPLIANT/ACCEPTABLE, which this service
# is expected to exceed) is counted as a failure.
passed=$(grep -cE '^SUCCESS\b' "$TESTER_LOG" || true)
failed=$(grep -cE '^(COMPLIANT|ACCEPTABLE|DEVIATION|ERROR|CRITICAL|SKIPPED)\b' "$TESTER_LOG" || true)
if [[ $tester_rc -ne 0 && $failed -eq 0 ]]; then
	log "scim2 exited with $tester_rc without a failing check line: counted as one failure"
	failed=1
fi
if [[ $passed -eq 0 && $failed -eq 0 ]]; then
	log "no check ran"
	failed=1
fi
echo "$passed passed, $failed failed"
((failed == 0))
