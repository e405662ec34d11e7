#!/usr/bin/env bash
# Multi-instance deployment test: a real redis-server, two demo instances
# (127.0.0.1:3000 and :3001) with one public_url, one Redis store and one
# SQLite user database, driven by drive.mjs. Also checks that a demo whose
# Redis is unreachable refuses to start with a clear error.
#
#   bash tests/interop/multi-instance/run.sh        (LOGINS=2000 by default)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ssokit-target}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ssokit-multi.XXXXXX")"
REDIS_PORT="${REDIS_PORT:-6399}"
PIDS=()

cleanup() {
	local rc=$?
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ $rc -ne 0 ]]; then
		for f in "$WORK"/*.log; do echo "---- $f"; tail -n 40 "$f"; done
	fi
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT

for port in 3000 3001 "$REDIS_PORT"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "multi-instance: port $port is in use" >&2
		exit 1
	fi
done

# Release build: throughput and latency of a debug build say nothing.
echo "multi-instance: building the demo (release, redis feature)"
(cd "$ROOT" && cargo build --quiet --release --features redis --example demo)
DEMO="$CARGO_TARGET_DIR/release/examples/demo"

cat >"$WORK/demo.toml" <<TOML
public_url = "http://127.0.0.1:3000"
store = "redis://127.0.0.1:$REDIS_PORT"
database = "$WORK/users.sqlite"
dev_idp_auto_login = true

[[tenants]]
id = "acme"
domains = ["acme.test"]

[[connections]]
id = "acme-dev"
tenant = "acme"
kind = "oidc"
issuer = "http://127.0.0.1:3000/dev/idp"
client_id = "demo"
client_secret = "demo-secret"
jit = true
template = { role = "member" }

[[users]]
tenant = "acme"
email = "ann@acme.test"
name = "Ann"
role = "admin"
TOML

echo "multi-instance: a demo whose Redis is unreachable must refuse to start"
if SSOKIT_DEMO_ADDR=127.0.0.1:3000 SSOKIT_DEMO_CONFIG="$WORK/demo.toml" timeout 20 "$DEMO" >"$WORK/refuse.log" 2>&1; then
	echo "multi-instance: the demo started without Redis" >&2
	exit 1
fi
grep -q "Redis" "$WORK/refuse.log" || { echo "multi-instance: no clear Redis error" >&2; exit 1; }
echo "multi-instance: refused: $(tail -n 1 "$WORK/refuse.log")"

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break; sleep 0.1; done

for addr in 127.0.0.1:3000 127.0.0.1:3001; do
	SSOKIT_DEMO_ADDR="$addr" SSOKIT_DEMO_CONFIG="$WORK/demo.toml" "$DEMO" >"$WORK/demo-${addr##*:}.log" 2>&1 &
	PIDS+=($!)
done
for port in 3000 3001; do
	for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.1; done
done

node "$HERE/drive.mjs"
