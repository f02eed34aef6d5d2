#!/usr/bin/env bash
# Load benchmark for the REST API (issue figures go to BENCHMARKS.md).
#
# Builds the release binary, makes a fresh database `heimdell_bench` on the local Postgres,
# migrates, seeds the demo tenants plus 100,000 generated contacts, serves on a loopback port,
# and drives it with wrk from a second process:
#   1. GET /api/v1/contacts?q=<name fragment>   (target: >= 1,500 req/s, p95 < 25 ms): wrk at 16
#      and 32 connections (closed loop), `heimdell bench rate` offering a fixed 1,500 req/s (open
#      loop), and the same query in Postgres alone with pgbench
#   2. create_task proposed and approved at once (target: >= 300 /s)
#   3. building a Copilot context pack, in-process (target: p95 < 15 ms)
#   4. a whole Copilot turn with the built-in planner, in-process (target: p95 < 30 ms)
#   5. 200 chat users, one message every 5 s each, over HTTP from a second process
#      (target: no error, p95 < 100 ms)
# Usage: scripts/bench.sh [duration, default 20s]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION="${1:-20s}"
command -v wrk >/dev/null || make bench-deps
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/heimdell-target}"
cargo build --release --bin heimdell >&2
BIN="$CARGO_TARGET_DIR/release/heimdell"

admin="$(bash scripts/pg.sh up | tail -n 1)"
bench_url="${admin%/*}/heimdell_bench"
bash scripts/pg.sh psql -q -c "DROP DATABASE IF EXISTS heimdell_bench" -c "CREATE DATABASE heimdell_bench" >&2
export DATABASE_URL="$bench_url"
"$BIN" migrate >&2
start=$(date +%s.%N)
seed_json="$("$BIN" seed-demo --json --contacts 100000)"
# Fresh statistics and a visibility map after the bulk load, as autovacuum gives a long-running
# database (otherwise autovacuum does it during the first measurements, and index-only scans of
# the search postings visit the heap until it has).
bash scripts/pg.sh psql -q -c "VACUUM ANALYZE" >&2
echo "seed with 100,000 extra contacts: $(echo "$(date +%s.%N) - $start" | bc) s" >&2
token="$(printf '%s' "$seed_json" | python3 -c 'import json,sys; t=json.load(sys.stdin)["tenants"][0]; print([u for u in t["users"] if u["role"]=="rep"][0]["token"])')"
export HEIMDELL_BENCH_TOKEN="$token"
all_tokens="$(printf '%s' "$seed_json" | python3 -c 'import json,sys; print(",".join(u["token"] for t in json.load(sys.stdin)["tenants"] for u in t["users"]))')"

port=18080
HEIMDELL_LOG=warn "$BIN" serve --addr "127.0.0.1:$port" >&2 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
# The server migrates before it listens; wait for it to answer, and stop if it never does
# (otherwise wrk would measure connection errors).
up=""
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then up=1; break; fi
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
[ -n "$up" ] || { echo "bench.sh: the server on port $port never became healthy" >&2; exit 1; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
echo "== GET /api/v1/contacts?q=<fragment> (100,000+ contacts in the tenant), 16 connections"
wrk -t2 -c16 -d"$DURATION" --latency -s scripts/bench/search.lua "http://127.0.0.1:$port"
# wrk is a closed loop: each connection waits for its answer, so past saturation more
# connections only queue (latency = connections / throughput). Both points are recorded.
echo "== the same search, 32 connections"
wrk -t2 -c32 -d"$DURATION" --latency -s scripts/bench/search.lua "http://127.0.0.1:$port"
echo "== the same search offered at a fixed 1,500 req/s (open loop: latency from when each request was due)"
search_paths=()
for f in smi john ann lee mar son ber kim ols dav chr eli ras han nie; do
  search_paths+=(--path "/api/v1/contacts?q=$f&limit=25")
done
"$BIN" bench rate --url "http://127.0.0.1:$port" --token "$token" --rate 1500 --seconds "${DURATION%s}" --connections 64 "${search_paths[@]}"
echo "== the same search in Postgres alone (pgbench, 8 clients, as heimdell_app; no server, no wrk)"
tenant="$(printf '%s' "$seed_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenants"][0]["id"])')"
PGBENCH="$(find .pg/dist -name pgbench -type f | head -n 1)"
"$PGBENCH" -n -M prepared -c 8 -j 2 -T "${DURATION%s}" -D tenant="$tenant" -f scripts/bench/search_pgbench.sql \
  -U heimdell_app -h 127.0.0.1 -p "${HEIMDELL_PG_PORT:-55432}" heimdell_bench | grep -E '^(tps|latency average)'
echo "== create_task propose+approve (approve: true)"
wrk -t2 -c16 -d"$DURATION" --latency -s scripts/bench/create_task.lua "http://127.0.0.1:$port"
echo "== Copilot context pack (in-process)"
"$BIN" bench context-pack --iterations 500
echo "== Copilot turn with the built-in planner (in-process)"
"$BIN" bench turn --iterations 500
echo "== 200 chat users, one message every 5 s each (second process over HTTP)"
"$BIN" bench chat-load --url "http://127.0.0.1:$port" --token "$all_tokens" --users 200 --every 5 --seconds "${CHAT_SECONDS:-60}"
echo "== texting: 1,000 approved texts to a fake Twilio; 500 inbound webhooks/s (in-process, own database)"
bash scripts/pg.sh psql -q -c "DROP DATABASE IF EXISTS heimdell_bench_sms" -c "CREATE DATABASE heimdell_bench_sms" >&2
DATABASE_URL="${admin%/*}/heimdell_bench_sms" "$BIN" migrate >&2
DATABASE_URL="${admin%/*}/heimdell_bench_sms" "$BIN" bench sms --messages 1000 --webhook-rate 500 --webhook-seconds 10
