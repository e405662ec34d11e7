#!/usr/bin/env bash
# Browser test: signs in through ssokit's demo in Debian's headless Chromium (playwright-core,
# pinned by package-lock.json), through the demo's development OpenID and SAML IdPs and through a
# real OpenID provider (oidc-provider, tests/interop/oidc-provider/op.mjs). Screenshots of every
# page go to artifacts/browser/.
#
#   bash tests/browser/run.sh
#
# Starts, on 127.0.0.1: the demo with its embedded defaults (:3000), oidc-provider (:4000) and
# a second demo configured for it (:3001); always stops them; prints their logs when something
# fails. The last line is the script's "N passed, M failed, K skipped"; the exit code is its.
#
# Needs /usr/bin/chromium (Debian's `chromium` package; .ci/run installs it) and Node.js >= 20.
# Environment: CARGO_TARGET_DIR (shared with the other cargo steps), DEMO_FEATURES (cargo flags
# the demo is built with; default --all-features, as the CI test step builds it), DEMO_WAIT_SECS
# (default 180), BROWSER_LOG_DIR (default: a temp dir, removed on success), ARTIFACTS_DIR.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OP_DIR="$ROOT/tests/interop/oidc-provider"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ssokit-target}"

DEMO_URL="http://127.0.0.1:3000"
OP_DEMO_URL="http://127.0.0.1:3001"
OP_URL="http://127.0.0.1:4000"
DEMO_WAIT_SECS="${DEMO_WAIT_SECS:-180}"
read -r -a DEMO_FEATURES <<<"${DEMO_FEATURES:---all-features}"
if [[ -n "${BROWSER_LOG_DIR:-}" ]]; then
	LOG_DIR="$BROWSER_LOG_DIR"
	KEEP_LOGS=1
else
	LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/ssokit-browser.XXXXXX")"
	KEEP_LOGS=0
fi
mkdir -p "$LOG_DIR"

log() { printf 'browser: %s\n' "$*"; }

PIDS=()
NAMES=()

# Stops a server started below (the leader of its own process group): SIGTERM, then SIGKILL.
stop_group() {
	local pid="$1" name="$2"
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

cleanup() {
	local rc=$? i
	for i in "${!PIDS[@]}"; do
		stop_group "${PIDS[$i]}" "${NAMES[$i]}"
	done
	if [[ $rc -ne 0 ]]; then
		for i in "${!NAMES[@]}"; do
			local file="$LOG_DIR/${NAMES[$i]}.log"
			[[ -s "$file" ]] || continue
			printf -- '----- %s log (last 100 lines) -----\n' "${NAMES[$i]}"
			tail -n 100 "$file"
		done
	elif [[ $KEEP_LOGS -eq 0 ]]; then
		rm -rf "$LOG_DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs "$@" in the background as the leader of a new process group, logging to NAME.log.
start() {
	local name="$1"
	shift
	setsid "$@" >"$LOG_DIR/$name.log" 2>&1 </dev/null &
	PIDS+=("$!")
	NAMES+=("$name")
}

answers() {
	node -e 'fetch(process.argv[1], { redirect: "manual", signal: AbortSignal.timeout(2000) })
		.then(() => process.exit(0), () => process.exit(1))' "$1" 2>/dev/null
}

# wait_for NAME URL SECONDS: until URL answers, or the server exits, or time runs out.
wait_for() {
	local name="$1" url="$2" secs="$3" start=$SECONDS pid="${PIDS[-1]}"
	while ((SECONDS - start < secs)); do
		kill -0 "$pid" 2>/dev/null || { log "$name exited before answering at $url"; return 1; }
		if answers "$url"; then
			log "$name answers at $url"
			return 0
		fi
		sleep 0.3
	done
	log "$name did not answer at $url within $secs s"
	return 1
}

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[[ -x "$CHROMIUM" ]] || { log "$CHROMIUM is missing: apt-get install chromium"; exit 1; }
for url in "$DEMO_URL/" "$OP_DEMO_URL/" "$OP_URL/"; do
	if answers "$url"; then
		log "something already listens at $url; stop it first (ports 3000, 3001, 4000)"
		exit 1
	fi
done

log "installing playwright-core and oidc-provider (npm ci)"
(cd "$HERE" && npm ci --silent --no-audit --no-fund)
(cd "$OP_DIR" && npm ci --silent --no-audit --no-fund)

log "building the demo (cargo build ${DEMO_FEATURES[*]} --example demo)"
(cd "$ROOT" && cargo build --quiet "${DEMO_FEATURES[@]}" --example demo)
DEMO_BIN="$CARGO_TARGET_DIR/debug/examples/demo"

start demo env -u SSOKIT_DEMO_CONFIG SSOKIT_DEMO_ADDR=127.0.0.1:3000 "$DEMO_BIN"
wait_for demo "$DEMO_URL/" "$DEMO_WAIT_SECS"

start oidc-provider env OP_PORT=4000 DEMO_URL="$OP_DEMO_URL" node "$OP_DIR/op.mjs"
wait_for oidc-provider "$OP_URL/.well-known/openid-configuration" 30

# The interop configuration, served at :3001 instead of :3000.
sed 's#^public_url = .*#public_url = "'"$OP_DEMO_URL"'"#' "$OP_DIR/demo.toml" >"$LOG_DIR/demo-op.toml"
start demo-op env SSOKIT_DEMO_ADDR=127.0.0.1:3001 SSOKIT_DEMO_CONFIG="$LOG_DIR/demo-op.toml" "$DEMO_BIN"
wait_for demo-op "$OP_DEMO_URL/" "$DEMO_WAIT_SECS"

log "driving Chromium"
set +e
(cd "$HERE" && DEMO_URL="$DEMO_URL" OP_DEMO_URL="$OP_DEMO_URL" CHROMIUM="$CHROMIUM" node browser.mjs)
status=$?
set -e
exit "$status"
