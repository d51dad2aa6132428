#!/usr/bin/env bash
# Flame graphs of the two hot reads, for docs/flamegraphs/: `GET /` with a token (the server's
# threads) and `GET /v1/financial-accounts/{id}` on SQLite (the whole machine: the server's
# runtime threads, sqlx's SQLite threads, the kernel's scheduling between them, and wrk).
#
#   bash bench/flamegraph.sh [OUT_DIR]      (default docs/flamegraphs)
#
# Needs perf (Debian's linux-perf) with the cpu-clock event, wrk, curl, and inferno
# (`cargo install inferno`, installed here if missing). Uses target/release/openmonime (built here
# if missing); a fresh SQLite database in a temporary directory; 6 s of samples at 499 Hz under
# 64 connections, stacks unwound with DWARF.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/docs/flamegraphs}
BIN=$ROOT/target/release/openmonime
log() { echo "flamegraph: $*" >&2; }
command -v inferno-flamegraph >/dev/null || cargo install inferno --locked
for tool in perf wrk curl; do command -v "$tool" >/dev/null || { log "needs $tool"; exit 1; }; done
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release -p openmonime)
WORK=$(mktemp -d)
PORT=18190
"$BIN" serve --database "sqlite:$WORK/db" --listen "127.0.0.1:$PORT" --rate-limits off >"$WORK/out" 2>"$WORK/err" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
TOKEN=$(grep -oE 'mon_test_[A-Za-z0-9]+' "$WORK/out" | head -n 1)
SPACE=$(grep -oE 'spc-[A-Za-z0-9]+' "$WORK/out" | head -n 1)
ACCOUNT=$(curl -fs -H "Authorization: Bearer $TOKEN" -H "Monime-Space-Id: $SPACE" "http://127.0.0.1:$PORT/v1/financial-accounts" |
  grep -o '"id":"fac-[A-Za-z0-9]*"' | head -n 1 | cut -d'"' -f4)
# profile NAME TITLE SCOPE URL [HEADER...]: wrk for 12 s, perf for the middle 6 s
profile() {
  local name=$1 title=$2 scope=$3 url=$4
  shift 4
  local headers=()
  for h in "$@"; do headers+=(-H "$h"); done
  wrk -t2 -c64 -d12s "${headers[@]}" "$url" >"$WORK/$name.wrk" &
  local wrk_pid=$!
  sleep 2
  if [ "$scope" = machine ]; then
    perf record -F 499 -e cpu-clock --call-graph dwarf,16384 -a -o "$WORK/$name.data" -- sleep 6 2>/dev/null
  else
    perf record -F 499 -e cpu-clock --call-graph dwarf,16384 -p "$PID" -o "$WORK/$name.data" -- sleep 6 2>/dev/null
  fi
  wait "$wrk_pid"
  perf script -i "$WORK/$name.data" 2>/dev/null | inferno-collapse-perf >"$WORK/$name.folded"
  inferno-flamegraph --title "$title" --width 1400 <"$WORK/$name.folded" >"$OUT/$name.svg"
  log "$OUT/$name.svg ($(grep -m1 'Requests/sec' "$WORK/$name.wrk" | tr -s ' '))"
}
mkdir -p "$OUT"
profile get-root "GET / with a token (perf, cpu-clock, 6 s under wrk -c64)" server \
  "http://127.0.0.1:$PORT/" "Authorization: Bearer $TOKEN"
profile account-read-sqlite "GET /v1/financial-accounts/{id} on SQLite (perf, cpu-clock, whole machine, 6 s under wrk -c64)" \
  machine "http://127.0.0.1:$PORT/v1/financial-accounts/$ACCOUNT" "Authorization: Bearer $TOKEN" "Monime-Space-Id: $SPACE"
