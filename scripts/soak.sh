#!/usr/bin/env bash
# Hardening benchmarks (issue 10), against a release server on a fresh database:
#   1. 1,000 failed sign-ins from 16 clients, with reads offered beside them, twice: with the
#      default per-address limit, and with it off (every attempt then costs a password check).
#      Target: the server stays under 150 MB and the reads' p95 under 50 ms.
#   2. `heimdell bench soak`: the benchmark mix for MINUTES minutes (default 10), RSS and p95
#      per minute. Target: memory flat, no errors.
# Usage: scripts/soak.sh [MINUTES]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MINUTES="${1:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/heimdell-target}"
cargo build --release --bin heimdell >&2
BIN="$CARGO_TARGET_DIR/release/heimdell"

admin="$(bash scripts/pg.sh up | tail -n 1)"
DATABASE_URL="$admin" bash scripts/pg.sh psql -q -c "DROP DATABASE IF EXISTS heimdell_soak WITH (FORCE)" -c "CREATE DATABASE heimdell_soak" >&2
export DATABASE_URL="${admin%/*}/heimdell_soak"
"$BIN" migrate >&2
seed_json="$("$BIN" seed-demo --json --contacts 20000)"
bash scripts/pg.sh psql -q -c "VACUUM ANALYZE" >&2
pick() { printf '%s' "$seed_json" | python3 -c "import json,sys; t=json.load(sys.stdin)['tenants'][0]; print([u for u in t['users'] if u['role']=='$1'][0]['token'])"; }
export HEIMDELL_BENCH_TOKEN="$(pick rep)"
export HEIMDELL_BENCH_ADMIN_TOKEN="$(pick admin)"

port=18081
twilio=127.0.0.1:18099
server=""
start_server() {
  HEIMDELL_LOG=warn HEIMDELL_SECRET_KEY="$(openssl rand -hex 32)" HEIMDELL_PUBLIC_URL="http://127.0.0.1:$port" \
    HEIMDELL_TWILIO_BASE_URL="http://$twilio" "$@" "$BIN" serve --addr "127.0.0.1:$port" >&2 &
  server=$!
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then return 0; fi
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  echo "soak.sh: the server on port $port never became healthy" >&2
  exit 1
}
stop_server() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
trap stop_server EXIT

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
echo "== 1,000 failed sign-ins from 16 clients (default limits: 30 a minute per address)"
start_server env
"$BIN" bench sign-in-flood --url "http://127.0.0.1:$port" --attempts 1000 --clients 16
stop_server
echo "== the same with the per-address limit off (every attempt is a password check)"
start_server env HEIMDELL_SIGN_IN_PER_MINUTE=0
"$BIN" bench sign-in-flood --url "http://127.0.0.1:$port" --attempts 1000 --clients 16
stop_server
echo "== soak: the benchmark mix for $MINUTES minutes"
start_server env
"$BIN" bench soak --url "http://127.0.0.1:$port" --minutes "$MINUTES" --twilio-addr "$twilio"
