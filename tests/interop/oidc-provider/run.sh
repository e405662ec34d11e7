#!/usr/bin/env bash
# Interop test: ssokit's demo app (examples/demo.rs) against a real OpenID Provider
# (panva/oidc-provider, op.mjs), driven by a headless HTTP client (drive.mjs).
#
#   bash tests/interop/oidc-provider/run.sh
#
# Starts both servers on 127.0.0.1 (OP :4000, demo :3000), always stops them, prints their logs
# when something fails. Exit code is the driver's.
#
# Environment: CARGO_TARGET_DIR (shared with the other cargo steps), DEMO_WAIT_SECS (default 180,
# the demo may have to compile), OP_WAIT_SECS (default 30), INTEROP_LOG_DIR (default: a temp dir),
# INTEROP_DEMO_CMD (a shell command that serves the demo contract instead of `cargo run`, run from
# the repository root; for trying the harness itself).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ssokit-target}"

OP_PORT=4000
OP_URL="http://127.0.0.1:${OP_PORT}"
DEMO_URL="http://127.0.0.1:3000" # must match public_url in demo.toml
DEMO_WAIT_SECS="${DEMO_WAIT_SECS:-180}"
OP_WAIT_SECS="${OP_WAIT_SECS:-30}"
if [[ -n "${INTEROP_LOG_DIR:-}" ]]; then
	LOG_DIR="$INTEROP_LOG_DIR"
	KEEP_LOGS=1
else
	LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/ssokit-interop.XXXXXX")"
	KEEP_LOGS=0
fi
mkdir -p "$LOG_DIR"
OP_LOG="$LOG_DIR/op.log"
DEMO_LOG="$LOG_DIR/demo.log"

OP_PID=""
DEMO_PID=""

log() { printf 'interop: %s\n' "$*"; }

# Stops a server started below as the leader of its own process group (so `cargo run`'s child,
# the demo binary, goes too): SIGTERM, then SIGKILL after 5 s.
stop_group() {
	local pid="$1" name="$2"
	[[ -n "$pid" ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name did not stop on SIGTERM, killing it"
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

show_log() {
	local name="$1" file="$2"
	[[ -e "$file" ]] || return 0 # never started
	[[ -s "$file" ]] || { log "($name log is empty)"; return 0; }
	printf -- '----- %s log (%s, last 200 lines) -----\n' "$name" "$file"
	tail -n 200 "$file"
	printf -- '----- end of %s log -----\n' "$name"
}

cleanup() {
	local rc=$?
	stop_group "$DEMO_PID" demo
	stop_group "$OP_PID" oidc-provider
	if [[ $rc -ne 0 ]]; then
		show_log oidc-provider "$OP_LOG"
		show_log demo "$DEMO_LOG"
	elif [[ $KEEP_LOGS -eq 0 ]]; then
		rm -rf "$LOG_DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# answers URL: true when something answers at URL with any HTTP status (node, so no curl needed).
answers() {
	node -e 'fetch(process.argv[1], { redirect: "manual", signal: AbortSignal.timeout(2000) })
		.then(() => process.exit(0), () => process.exit(1))' "$1" 2>/dev/null
}

# Runs "$@" in the background as the leader of a new process group; sets BG_PID.
start_group() {
	local logfile="$1"
	shift
	if command -v setsid >/dev/null; then
		setsid "$@" >"$logfile" 2>&1 </dev/null &
	else
		set -m
		"$@" >"$logfile" 2>&1 </dev/null &
		set +m
	fi
	BG_PID=$!
}

# wait_until NAME PID SECONDS URL: polls URL until it answers with any HTTP status.
wait_until() {
	local name="$1" pid="$2" secs="$3" url="$4" start=$SECONDS
	while ((SECONDS - start < secs)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited before answering at $url"
			return 1
		fi
		if answers "$url"; then
			log "$name answers at $url after $((SECONDS - start)) s"
			return 0
		fi
		sleep 0.5
	done
	log "$name did not answer at $url within $secs s"
	return 1
}

for url in "$OP_URL/" "$DEMO_URL/"; do
	if answers "$url"; then
		log "something already listens at $url; stop it first (the test needs ports 3000 and 4000)"
		exit 1
	fi
done

log "logs in $LOG_DIR"
log "installing oidc-provider (npm ci)"
(cd "$HERE" && npm ci --silent --no-audit --no-fund)

log "starting oidc-provider on $OP_URL"
start_group "$OP_LOG" env OP_PORT="$OP_PORT" DEMO_URL="$DEMO_URL" node "$HERE/op.mjs"
OP_PID=$BG_PID
wait_until oidc-provider "$OP_PID" "$OP_WAIT_SECS" "$OP_URL/.well-known/openid-configuration"

if [[ -n "${INTEROP_DEMO_CMD:-}" ]]; then
	log "starting the demo on $DEMO_URL ($INTEROP_DEMO_CMD)"
	start_group "$DEMO_LOG" env -C "$ROOT" SSOKIT_DEMO_CONFIG="$HERE/demo.toml" bash -c "$INTEROP_DEMO_CMD"
else
	log "starting the demo on $DEMO_URL (cargo run --example demo; may compile first)"
	start_group "$DEMO_LOG" env -C "$ROOT" SSOKIT_DEMO_CONFIG="$HERE/demo.toml" \
		cargo run --quiet --all-features --example demo
fi
DEMO_PID=$BG_PID
wait_until demo "$DEMO_PID" "$DEMO_WAIT_SECS" "$DEMO_URL/"

log "driving the demo"
set +e
(cd "$HERE" && DEMO_URL="$DEMO_URL" OP_URL="$OP_URL" node drive.mjs)
status=$?
set -e
exit "$status"
