#!/usr/bin/env bash
# openmonime's benchmark harness: the one entry point (see bench/README.md and BENCHMARKS.md).
#
#   bash bench/run.sh            the full run (about 13 minutes after the build): every
#                                measurement repeated, interleaved with its reference, medians
#   bash bench/run.sh --smoke    about a second per step: checks that every step runs and yields
#                                numbers; asserts nothing about speed (what CI runs)
#   bash bench/run.sh --only console
#                                the console step alone (issue 19; about 3 minutes, or 30 s with
#                                --smoke): seeds a Space with tokens and audit events through the
#                                API, signs in, and times every console page
#
# Options:
#   --smoke          as above
#   --only console   run only the console step (the other steps are skipped)
#   --no-postgres    skip the PostgreSQL runs even when a server answers
#   --no-build       reuse the release binaries already in target/release
#   --instructions / --no-instructions
#                    count instructions per request under callgrind (noise-free; installs
#                    valgrind if missing); on by default
#   --out DIR        where the results file goes (default: bench/results)
# Environment:
#   BENCH_PG_URL     an administrative PostgreSQL URL (default
#                    postgres://postgres:postgres@127.0.0.1:5432/postgres); the harness creates
#                    fresh databases there and drops them afterwards
#   BENCH_SECONDS, BENCH_REPS, BENCH_ACCOUNT_COUNT
#                    override the seconds per load run, the repetitions, the funded accounts
#   BENCH_CONSOLE_TOKENS, BENCH_CONSOLE_EVENTS, BENCH_CONSOLE_REQUESTS
#                    the console step's seed (tokens of the owner, audit events in the Space's
#                    test log; 1000 and 10000, smoke 50 and 200) and the requests timed per page
#                    (200, smoke 5; each page's after 5 warm-up requests, smoke 1)
#
# What it does: builds openmonime, the baseline server (bench/baseline) and the direct-SQL driver
# (bench/direct) in release mode; installs wrk (and curl) from Debian's packages if missing;
# starts everything on loopback; drives load with wrk; counts instructions per request under
# callgrind; seeds a Space and times the console's pages by the server's own
# `monime-request-duration`; writes bench/results/<timestamp>.md (plus the raw .tsv). Every
# process it starts is stopped on exit, every database it creates dropped.
# It exits non-zero if any step fails or yields no numbers.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=full
USE_PG=1
BUILD=1
INSTRUCTIONS=
OUT_DIR="$ROOT/bench/results"
ONLY=
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) MODE=smoke ;;
    --no-postgres) USE_PG=0 ;;
    --no-build) BUILD=0 ;;
    --instructions) INSTRUCTIONS=1 ;;
    --no-instructions) INSTRUCTIONS=0 ;;
    --only)
      [ "${2:-}" = console ] || { echo "--only takes one step: console" >&2; exit 2; }
      ONLY=$2
      shift
      ;;
    --out) OUT_DIR=$2; shift ;;
    -h | --help) sed -n '2,39p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$MODE" = smoke ]; then
  SECONDS_PER_RUN=${BENCH_SECONDS:-1}
  REPS=${BENCH_REPS:-1}
  ACCOUNTS=${BENCH_ACCOUNT_COUNT:-20}
  STARTUP_REPS=1
  REVOCATIONS=2
  PGBENCH_SCALE=1
  INSTRUCTIONS=${INSTRUCTIONS:-1}
  INSTR_REQUESTS=200
  CONSOLE_TOKENS=${BENCH_CONSOLE_TOKENS:-50}
  CONSOLE_EVENTS=${BENCH_CONSOLE_EVENTS:-200}
  CONSOLE_REQUESTS=${BENCH_CONSOLE_REQUESTS:-5}
  CONSOLE_WARMUP=1
else
  SECONDS_PER_RUN=${BENCH_SECONDS:-5}
  REPS=${BENCH_REPS:-3}
  ACCOUNTS=${BENCH_ACCOUNT_COUNT:-1000}
  STARTUP_REPS=5
  REVOCATIONS=20
  PGBENCH_SCALE=32
  INSTRUCTIONS=${INSTRUCTIONS:-1}
  INSTR_REQUESTS=2000
  CONSOLE_TOKENS=${BENCH_CONSOLE_TOKENS:-1000}
  CONSOLE_EVENTS=${BENCH_CONSOLE_EVENTS:-10000}
  CONSOLE_REQUESTS=${BENCH_CONSOLE_REQUESTS:-200}
  CONSOLE_WARMUP=5
fi
WRK_THREADS=2
PG_ADMIN_URL=${BENCH_PG_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
BIN="$ROOT/target/release"
export BENCH_WRK_DIR="$ROOT/bench/wrk"

log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Cleanup: every process started and every database created is recorded here and undone on exit.
WORK=$(mktemp -d /tmp/openmonime-bench.XXXXXX)
PIDS=()
PG_DBS=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  for db in "${PG_DBS[@]}"; do
    psql "$PG_ADMIN_URL" -qtAc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
      log "could not drop database $db"
  done
  if [ $status -ne 0 ] && [ -d "$WORK" ]; then
    log "exit status $status; logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Tools.
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "$* missing and no apt-get to install it with"
  if [ $APT_UPDATED = 0 ]; then
    apt-get update -qq >&2 || die "apt-get update"
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 || die "apt-get install $*"
}
command -v wrk >/dev/null || { log "installing wrk"; apt_install wrk; }
command -v curl >/dev/null || { log "installing curl"; apt_install curl; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pg_available() {
  [ $USE_PG = 1 ] || return 1
  if ! command -v pg_isready >/dev/null; then
    port_open 5432 || return 1
    log "PostgreSQL answers on 5432; installing its client tools"
    apt_install postgresql-client
  fi
  pg_isready -h 127.0.0.1 -p 5432 -q || return 1
  command -v pgbench >/dev/null || apt_install postgresql-client
  psql "$PG_ADMIN_URL" -qtAc 'SELECT 1' >/dev/null 2>&1 || { log "cannot log in with BENCH_PG_URL"; return 1; }
}

# ---------------------------------------------------------------------------------------------
# Build once, in release mode (the baseline and the direct driver share the profile).
if [ $BUILD = 1 ]; then
  log "building in release mode ($MODE run)"
  (cd "$ROOT" && cargo build --release --quiet -p openmonime -p openmonime-bench-baseline -p openmonime-bench-direct) ||
    die "cargo build --release"
fi
for b in openmonime openmonime-bench-baseline openmonime-bench-direct; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing (run without --no-build)"
done

SERVE_FLAGS=()
RATE_LIMIT_NOTE="the server had no rate limits when this ran"
if "$BIN/openmonime" serve --help | grep -q -- '--rate-limits'; then
  SERVE_FLAGS+=(--rate-limits off)
  RATE_LIMIT_NOTE="rate limits disabled for every run (\`serve --rate-limits off\`)"
fi

# ---------------------------------------------------------------------------------------------
# Results: one line per sample, "metric<TAB>name<TAB>value"; medians are taken at the end.
export BENCH_ACCOUNTS_FILE="$WORK/accounts.txt"
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }
# kv KEY LINE: the value of KEY=… in a "BENCH k=v …" line, or of "KEY":… in a JSON line.
kv() { printf '%s\n' "$2" | tr ' ,{}' '\n\n\n\n' | sed -n "s/^\"\\{0,1\\}$1\"\\{0,1\\}[=:]//p" | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print "nan" }'; }

# Listening ports come from below the kernel's ephemeral range, so no client socket (wrk, curl, a
# database connection) can be holding the one a server is about to bind.
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
NEXT_PORT=$((10000 + RANDOM % (EPHEMERAL_LOW - 12000)))
free_port() {
  while port_open "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
  PORT=$NEXT_PORT
  NEXT_PORT=$((NEXT_PORT + 1))
}

now_ns() { date +%s%N; }

wait_http() { # URL PID [seconds]: until URL answers 200, or fail if the process died
  local deadline=$(($(date +%s) + ${3:-60}))
  until curl -fs -o /dev/null "$1"; do
    kill -0 "$2" 2>/dev/null || return 1
    [ "$(date +%s)" -lt $deadline ] || return 1
    sleep 0.05
  done
}

# start_openmonime NAME DATABASE_URL: sets OM_PID, OM_URL; quick-start output in $WORK/NAME.out.
start_openmonime() {
  free_port
  "$BIN/openmonime" serve --database "$2" --listen "127.0.0.1:$PORT" "${SERVE_FLAGS[@]}" \
    >"$WORK/$1.out" 2>"$WORK/$1.log" &
  OM_PID=$!
  PIDS+=("$OM_PID")
  OM_URL="http://127.0.0.1:$PORT"
  wait_http "$OM_URL/healthz" "$OM_PID" || { tail -n 20 "$WORK/$1.log" >&2; die "openmonime ($1) did not start"; }
}

# start_baseline NAME BODY_BYTES: sets BASE_URL.
start_baseline() {
  free_port
  "$BIN/openmonime-bench-baseline" --listen "127.0.0.1:$PORT" --body-bytes "$2" >"$WORK/$1.out" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  BASE_PID=$pid
  BASE_URL="http://127.0.0.1:$PORT"
  wait_http "$BASE_URL/" "$pid" || die "baseline ($1) did not start"
}

stop_pid() { # and forget it, so the exit trap never signals a reused pid
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() pid
  for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  PIDS=("${kept[@]}")
}

# quick-start credentials of a server's fresh database
read_quickstart() {
  TOKEN=$(grep -o 'mon_test_[A-Za-z0-9]*' "$WORK/$1.out" | head -n 1)
  SPACE=$(sed -n 's/^ *Space: *\(spc-[A-Za-z0-9]*\).*/\1/p' "$WORK/$1.out" | head -n 1)
  MONIMEER=$(sed -n 's/^ *Monimeer (owner): *\(mmr-[A-Za-z0-9]*\).*/\1/p' "$WORK/$1.out" | head -n 1)
  TOKEN_ID=$(sed -n 's/^ *Test token (\(tok-[A-Za-z0-9]*\),.*/\1/p' "$WORK/$1.out" | head -n 1)
  [ -n "$TOKEN" ] && [ -n "$SPACE" ] && [ -n "$MONIMEER" ] && [ -n "$TOKEN_ID" ] || die "no quick-start token in $1's output"
}

# cpu_ticks PID: user + system CPU time of a process so far, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICKS_PER_S=$(getconf CLK_TCK)

# run_wrk NAME CONNECTIONS SCRIPT URL [extra wrk args]: records rps/p50/p99 under NAME; sets RPS.
# With CPU_PID set, also the server's CPU time per request (user + system, µs): unlike the rate,
# it does not depend on how the load generator shares the cores; sets CPU_US.
run_wrk() {
  local name=$1 conns=$2 script=$3 url=$4
  shift 4
  local out="$WORK/wrk-$name.txt" ticks_before=
  [ -n "${CPU_PID:-}" ] && ticks_before=$(cpu_ticks "$CPU_PID")
  BENCH_RUN_TAG="$name-$RANDOM$RANDOM" wrk -t"$WRK_THREADS" -c"$conns" -d"${SECONDS_PER_RUN}s" --timeout 10s \
    -s "$BENCH_WRK_DIR/$script" "$@" "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk $name"; }
  local line
  line=$(grep '^BENCH ' "$out" | tail -n 1) || true
  [ -n "$line" ] || { cat "$out" >&2; die "wrk $name printed no report"; }
  local requests non2xx
  requests=$(kv requests "$line")
  non2xx=$(kv non2xx "$line")
  [ "${requests:-0}" -gt 0 ] || { cat "$out" >&2; die "wrk $name: no request completed"; }
  [ "${non2xx:-1}" = 0 ] || { cat "$out" >&2; die "wrk $name: $non2xx answers were not 2xx"; }
  RPS=$(kv rps "$line")
  record rps "$name" "$RPS"
  if [ -n "$ticks_before" ]; then
    CPU_US=$(awk -v t=$(($(cpu_ticks "$CPU_PID") - ticks_before)) -v hz="$TICKS_PER_S" -v n="$requests" \
      'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    record cpu_us "$name" "$CPU_US"
  fi
  record p50_ms "$name" "$(kv p50_ms "$line")"
  record p99_ms "$name" "$(kv p99_ms "$line")"
  local socket_errors=$(($(kv connect_errors "$line") + $(kv read_errors "$line") + $(kv write_errors "$line") + $(kv timeouts "$line")))
  record socket_errors "$name" "$socket_errors"
  log "  $name: $RPS req/s, p99 $(kv p99_ms "$line") ms"
}

# run_direct NAME MODE DATABASE_URL CONCURRENCY: the same SQL through the same driver (mode
# `transfer-store`: the store's own transfer call, as the API's handler makes it, with the
# quick-start token as the spender); sets RPS.
run_direct() {
  local name=$1 mode=$2 db=$3 conc=$4 out="$WORK/direct-$1.txt"
  "$BIN/openmonime-bench-direct" "$mode" --database "$db" --space "$SPACE" --env test --accounts "$WORK/accounts.txt" \
    --monimeer "$MONIMEER" --token "$TOKEN_ID" --seconds "$SECONDS_PER_RUN" --concurrency "$conc" >"$out" 2>&1 ||
    { cat "$out" >&2; die "direct $name"; }
  local line
  line=$(grep '^{' "$out" | tail -n 1) || true
  [ -n "$line" ] || { cat "$out" >&2; die "direct $name printed no report"; }
  [ "$(kv errors "$line")" = 0 ] || { cat "$out" >&2; die "direct $name had errors"; }
  RPS=$(kv rate "$line")
  record rps "$name" "$RPS"
  record p50_ms "$name" "$(kv p50_ms "$line")"
  record p99_ms "$name" "$(kv p99_ms "$line")"
  log "  $name: $RPS ops/s, p99 $(kv p99_ms "$line") ms"
}

memory_of() { # PID NAME: peak and current resident memory, MiB
  local hwm rss
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$1/status")
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
  [ -n "$hwm" ] || die "no VmHWM for $2"
  record vmhwm_mib "$2" "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')"
  record vmrss_mib "$2" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
  log "  $2 memory: peak $((hwm / 1024)) MiB, now $((rss / 1024)) MiB"
}

# setup_accounts NAME DATABASE_URL: ACCOUNTS accounts created through the API, each funded with
# `openmonime admin ledger credit`; ids in $WORK/accounts.txt.
setup_accounts() {
  local name=$1 db=$2 cfg="$WORK/create-$1.curl" started
  started=$(now_ns)
  : >"$cfg"
  for i in $(seq 1 "$ACCOUNTS"); do
    [ "$i" = 1 ] || echo next >>"$cfg"
    cat >>"$cfg" <<EOF
url = "$OM_URL/v1/financial-accounts"
header = "Authorization: Bearer $TOKEN"
header = "Monime-Space-Id: $SPACE"
header = "Content-Type: application/json"
header = "Idempotency-Key: bench-account-$i"
data = "{\"name\":\"bench-$i\",\"currency\":\"SLE\"}"
write-out = "\\n"
EOF
  done
  curl -s -K "$cfg" >"$WORK/create-$name.json" || die "creating accounts ($name)"
  grep -o '"id":"fac-[A-Za-z0-9]*"' "$WORK/create-$name.json" | cut -d'"' -f4 >"$WORK/accounts.txt"
  [ "$(wc -l <"$WORK/accounts.txt")" -eq "$ACCOUNTS" ] ||
    { head -c 600 "$WORK/create-$name.json" >&2; die "expected $ACCOUNTS accounts ($name)"; }
  while read -r account; do
    "$BIN/openmonime" admin --database "$db" ledger credit --space "$SPACE" --env test --account "$account" \
      --amount 1000000000 </dev/null >/dev/null || die "funding $account ($name)"
  done <"$WORK/accounts.txt"
  log "  $ACCOUNTS accounts created and funded in $((($(now_ns) - started) / 1000000)) ms"
}

# verify_ledger NAME DATABASE_URL: `admin ledger verify` after the load (the direct driver writes
# the same rows as the API, so the ledger must still balance). Smoke runs only: on the full run's
# tens of thousands of transfers the check takes minutes (it scans the entries once per transfer).
verify_ledger() {
  [ "$MODE" = smoke ] || return 0
  "$BIN/openmonime" admin --database "$2" ledger verify >"$WORK/verify-$1.txt" 2>&1 ||
    { cat "$WORK/verify-$1.txt" >&2; die "ledger verify ($1)"; }
}

# probe_writes NAME DATABASE_URL: one write (`admin ledger credit` of 1 unit) after a transfer run.
# wrk closes its connections with requests in flight; on SQLite a request cancelled inside
# `BEGIN IMMEDIATE` can leave a pooled connection holding the write lock (sqlx's `begin` is not
# cancel-safe), and then every write, from any process, fails with "database is locked". That is
# recorded (metric `wedged`) and the server is restarted on the same database so the run goes on.
probe_writes() {
  local name=$1 db=$2 account
  account=$(head -n 1 "$WORK/accounts.txt")
  if timeout 30 "$BIN/openmonime" admin --database "$db" ledger credit --space "$SPACE" --env test \
    --account "$account" --amount 1 >"$WORK/probe-$name.txt" 2>&1; then
    record wedged "$name" 0
    return
  fi
  record wedged "$name" 1
  log "  WARNING: writes fail after the transfer run ($(tail -n 1 "$WORK/probe-$name.txt")); restarting the server"
  memory_of "$SERVER_PID" "server_$name"
  stop_pid "$SERVER_PID"
  start_openmonime "$name-restarted" "$db"
  SERVER_PID=$OM_PID
  timeout 30 "$BIN/openmonime" admin --database "$db" ledger credit --space "$SPACE" --env test \
    --account "$account" --amount 1 >"$WORK/probe-$name.txt" 2>&1 || die "writes still fail after a restart ($name)"
}

# ledger_runs NAME DATABASE_URL: reads and transfers, API vs direct, interleaved.
ledger_runs() {
  local name=$1 db=$2
  for rep in $(seq 1 "$REPS"); do
    log "$name: rep $rep/$REPS"
    CPU_PID=$SERVER_PID run_wrk "account_get_$name" 64 accounts.lua "$OM_URL/" \
      -H "Authorization: Bearer $TOKEN" -H "Monime-Space-Id: $SPACE"
    local api=$RPS
    run_direct "account_get_direct_$name" read "$db" 64
    record ratio "account_get_$name/direct" "$(ratio "$api" "$RPS")"
    # The ceiling for any HTTP server doing this query: the bare HTTP cost (the baseline) plus the
    # query's (the direct driver), both paid on the same cores: 1 / (1/baseline + 1/direct).
    record ratio "account_get_$name/http_plus_direct" \
      "$(awk -v a="$api" -v b="$BASELINE_RPS" -v d="$RPS" 'BEGIN { printf "%.4f", a * (1 / b + 1 / d) }')"
    # The latency target again at a concurrency this machine's cores can serve.
    run_wrk "account_get_${name}_c8" 8 accounts.lua "$OM_URL/" -H "Authorization: Bearer $TOKEN" -H "Monime-Space-Id: $SPACE"
    run_direct "account_get_direct_${name}_c8" read "$db" 8
    run_wrk "transfer_$name" 32 transfers.lua "$OM_URL/" -H "Authorization: Bearer $TOKEN" -H "Monime-Space-Id: $SPACE"
    api=$RPS
    probe_writes "$name" "$db"
    local transfer_api=$api
    run_direct "transfer_direct_$name" transfer "$db" 32
    record ratio "transfer_$name/direct" "$(ratio "$api" "$RPS")"
    local transfer_direct=$RPS
    # The store's own transfer call (today's store work, no HTTP): splits the gap above into what
    # HTTP, auth and JSON cost (API ÷ store) and what the store's extra work costs (store ÷ direct).
    run_direct "transfer_store_$name" transfer-store "$db" 32
    record ratio "transfer_$name/store" "$(ratio "$api" "$RPS")"
    record ratio "transfer_store_$name/direct" "$(ratio "$RPS" "$transfer_direct")"
    # Payouts created (each holding its amount) against the transfers of the same rep.
    run_wrk "payout_$name" 32 payouts.lua "$OM_URL/" -H "Authorization: Bearer $TOKEN" -H "Monime-Space-Id: $SPACE"
    record ratio "payout_$name/transfer" "$(ratio "$RPS" "$transfer_api")"
    if [ "$name" = postgres ]; then
      run_pgbench
      record ratio "transfer_postgres/pgbench" "$(ratio "$api" "$RPS")"
    fi
  done
}

run_pgbench() {
  local out="$WORK/pgbench.txt"
  pgbench -n -c 32 -j 2 -T "$SECONDS_PER_RUN" "$PGBENCH_URL" >"$out" 2>&1 || { cat "$out" >&2; die "pgbench"; }
  RPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | head -n 1)
  [ -n "$RPS" ] || { cat "$out" >&2; die "pgbench printed no tps"; }
  record rps pgbench_tpcb "$RPS"
  record p50_ms pgbench_tpcb "$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$out" | head -n 1)"
  log "  pgbench: $RPS tps"
}

fresh_pg_db() { # PREFIX: creates a database, sets DB_URL
  local db="bench_$1_$(date +%s)_$$"
  psql "$PG_ADMIN_URL" -qtAc "CREATE DATABASE \"$db\"" >/dev/null || die "creating database $db"
  PG_DBS+=("$db")
  DB_URL="${PG_ADMIN_URL%/*}/$db"
}

# ---------------------------------------------------------------------------------------------
# 1. Start to first answered request, empty SQLite database.
# (`--only console` skips steps 1 to 4.)
if [ -z "$ONLY" ]; then
  log "start to first answered request (empty SQLite), $STARTUP_REPS times"
  for rep in $(seq 1 "$STARTUP_REPS"); do
    dir="$WORK/startup-$rep"
    mkdir -p "$dir"
    free_port
    started=$(now_ns)
    "$BIN/openmonime" serve --database "sqlite:$dir/db.sqlite" --listen "127.0.0.1:$PORT" "${SERVE_FLAGS[@]}" \
      >"$dir/out" 2>"$dir/log" &
    pid=$!
    PIDS+=("$pid")
    until curl -fs -o /dev/null "http://127.0.0.1:$PORT/"; do
      kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; die "openmonime exited during startup"; }
      [ $(($(now_ns) - started)) -lt 30000000000 ] || die "no answer 30 s after start"
    done
    ms=$(awk -v ns=$(($(now_ns) - started)) 'BEGIN { printf "%.1f", ns / 1e6 }')
    record startup_ms sqlite_empty "$ms"
    log "  answered after $ms ms"
    stop_pid "$pid"
  done

  # -------------------------------------------------------------------------------------------
  # 2. GET / against the baseline, then the ledger, on SQLite.
  log "openmonime on an empty SQLite database"
  mkdir -p "$WORK/sqlite"
  SQLITE_URL="sqlite:$WORK/sqlite/db.sqlite"
  start_openmonime sqlite "$SQLITE_URL"
  SERVER_PID=$OM_PID
  read_quickstart sqlite
  size_token=$(curl -fs -o /dev/null -w '%{size_download}' -H "Authorization: Bearer $TOKEN" "$OM_URL/")
  size_anon=$(curl -fs -o /dev/null -w '%{size_download}' "$OM_URL/")
  record body_bytes root_token "$size_token"
  record body_bytes root_anon "$size_anon"
  start_baseline baseline_token "$size_token"
  BASE_TOKEN_URL=$BASE_URL
  BASE_TOKEN_PID=$BASE_PID
  start_baseline baseline_anon "$size_anon"
  BASE_ANON_URL=$BASE_URL
  BASE_ANON_PID=$BASE_PID
  [ "$(curl -fs -o /dev/null -w '%{size_download}' "$BASE_TOKEN_URL/")" = "$size_token" ] || die "baseline body size"

  for rep in $(seq 1 "$REPS"); do
    log "GET /: rep $rep/$REPS"
    CPU_PID=$BASE_TOKEN_PID run_wrk baseline_token 64 plain.lua "$BASE_TOKEN_URL/" -H "Authorization: Bearer $TOKEN"
    base=$RPS base_cpu=$CPU_US
    BASELINE_RPS=$RPS # the HTTP ceiling the account reads are composed with below
    CPU_PID=$SERVER_PID run_wrk root_token 64 plain.lua "$OM_URL/" -H "Authorization: Bearer $TOKEN"
    record ratio "root_token/baseline" "$(ratio "$RPS" "$base")"
    record ratio "cpu root_token/baseline" "$(ratio "$CPU_US" "$base_cpu")"
    CPU_PID=$BASE_ANON_PID run_wrk baseline_anon 64 plain.lua "$BASE_ANON_URL/"
    base=$RPS base_cpu=$CPU_US
    CPU_PID=$SERVER_PID run_wrk root_anon 64 plain.lua "$OM_URL/"
    record ratio "root_anon/baseline" "$(ratio "$RPS" "$base")"
    record ratio "cpu root_anon/baseline" "$(ratio "$CPU_US" "$base_cpu")"
  done

  log "SQLite ledger: $ACCOUNTS accounts"
  setup_accounts sqlite "$SQLITE_URL"
  ledger_runs sqlite "$SQLITE_URL"
  memory_of "$SERVER_PID" server_sqlite
  verify_ledger sqlite "$SQLITE_URL"
  stop_pid "$SERVER_PID"
fi

# ---------------------------------------------------------------------------------------------
# 3. PostgreSQL: the ledger, pgbench on the same server, revocation seen by a second node.
PG_RAN=0
if [ -z "$ONLY" ] && pg_available; then
  PG_RAN=1
  PG_VERSION=$(psql "$PG_ADMIN_URL" -qtAc 'SHOW server_version' 2>/dev/null || echo unknown)
  log "pgbench: initializing a scratch database (scale $PGBENCH_SCALE)"
  fresh_pg_db pgbench
  PGBENCH_URL=$DB_URL
  pgbench -i -q -s "$PGBENCH_SCALE" "$PGBENCH_URL" >"$WORK/pgbench-init.txt" 2>&1 ||
    { cat "$WORK/pgbench-init.txt" >&2; die "pgbench -i"; }

  log "openmonime on a fresh PostgreSQL database"
  fresh_pg_db om
  PG_URL=$DB_URL
  start_openmonime postgres "$PG_URL"
  SERVER_PID=$OM_PID
  read_quickstart postgres
  setup_accounts postgres "$PG_URL"
  ledger_runs postgres "$PG_URL"
  memory_of "$SERVER_PID" server_postgres
  verify_ledger postgres "$PG_URL"

  log "revocation seen by a second node, $REVOCATIONS times"
  NODE1_URL=$OM_URL
  start_openmonime postgres_node2 "$PG_URL"
  NODE2_URL=$OM_URL
  for i in $(seq 1 "$REVOCATIONS"); do
    created=$("$BIN/openmonime" admin --database "$PG_URL" --json token create --monimeer "$MONIMEER" \
      --name "bench-revoke-$i" --env test --permissions financial-accounts:read --space "$SPACE" --expires-in 1d) ||
      die "token create"
    tok=$(printf '%s' "$created" | grep -o '"token":"mon_test_[A-Za-z0-9]*"' | cut -d'"' -f4)
    tok_id=$(printf '%s' "$created" | grep -o '"id":"tok-[A-Za-z0-9]*"' | cut -d'"' -f4)
    [ -n "$tok" ] && [ -n "$tok_id" ] || die "no token in: $created"
    for node in "$NODE1_URL" "$NODE2_URL"; do # both nodes cache the token as valid
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" -H "Monime-Space-Id: $SPACE" \
        "$node/v1/financial-accounts")
      [ "$code" = 200 ] || die "fresh token answered $code"
    done
    started=$(now_ns)
    "$BIN/openmonime" admin --database "$PG_URL" token revoke "$tok_id" >/dev/null || die "token revoke"
    until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" -H "Monime-Space-Id: $SPACE" \
      "$NODE2_URL/v1/financial-accounts")" = 401 ]; do
      [ $(($(now_ns) - started)) -lt 30000000000 ] || die "revocation not seen by node 2 within 30 s"
    done
    ms=$(awk -v ns=$(($(now_ns) - started)) 'BEGIN { printf "%.1f", ns / 1e6 }')
    record revocation_ms postgres_node2 "$ms"
  done
  log "  revocation latencies (ms): $(awk -F'\t' '$1 == "revocation_ms" { printf "%s ", $3 }' "$RESULTS")"
elif [ -z "$ONLY" ]; then
  log "PostgreSQL not reachable (or --no-postgres): skipping its runs"
fi

# ---------------------------------------------------------------------------------------------
# 4. Instructions per request under callgrind: user-space work only, but free of the noise of a
#    shared machine. Each server gets INSTR_REQUESTS warm-up requests over one keep-alive
#    connection, then its counters are zeroed, the same requests sent again and the counters dumped.
if [ "$INSTRUCTIONS" = 1 ] && [ -z "$ONLY" ]; then
  command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || { log "installing valgrind"; apt_install valgrind; }
  log "instructions per request (callgrind, $INSTR_REQUESTS requests each)"
  # curl_config FILE URL [HEADER...]: INSTR_REQUESTS requests of URL over one connection
  curl_config() {
    local file=$1 url=$2
    shift 2
    : >"$file"
    for i in $(seq 1 "$INSTR_REQUESTS"); do
      [ "$i" = 1 ] || echo next >>"$file"
      printf 'url = "%s"\noutput = "/dev/null"\nfail\n' "$url" >>"$file"
      for h in "$@"; do printf 'header = "%s"\n' "$h" >>"$file"; done
    done
  }
  # count NAME PID CONFIG: instructions per request of the server PID for the requests in CONFIG
  count() {
    local name=$1 pid=$2 cfg=$3 dump total
    curl -s -K "$cfg" || die "warm-up requests ($name)"
    callgrind_control --zero "$pid" >/dev/null || die "callgrind_control --zero ($name)"
    curl -s -K "$cfg" || die "measured requests ($name)"
    callgrind_control --dump="$name" "$pid" >/dev/null || die "callgrind_control --dump ($name)"
    dump=$(grep -l "^desc: Trigger: dump $name\$" "$WORK"/cg.* 2>/dev/null | head -n 1)
    [ -n "$dump" ] || die "no callgrind dump for $name"
    total=$(sed -n 's/^summary: //p' "$dump" | head -n 1)
    INSTR=$(awk -v t="$total" -v n="$INSTR_REQUESTS" 'BEGIN { printf "%.0f", t / n }')
    record instructions "$name" "$INSTR"
    log "  $name: $INSTR instructions per request"
  }
  # under_callgrind NAME CMD...: starts CMD under callgrind; sets VG_PID
  under_callgrind() {
    local name=$1
    shift
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$name.%p" "$@" >"$WORK/vg-$name.out" 2>"$WORK/vg-$name.log" &
    VG_PID=$!
    PIDS+=("$VG_PID")
  }

  free_port
  under_callgrind baseline "$BIN/openmonime-bench-baseline" --listen "127.0.0.1:$PORT" --body-bytes "$size_token"
  url="http://127.0.0.1:$PORT/"
  wait_http "$url" "$VG_PID" 120 || die "baseline under callgrind did not start"
  curl_config "$WORK/cg-base.curl" "$url" "Authorization: Bearer $TOKEN"
  count baseline_token "$VG_PID" "$WORK/cg-base.curl"
  base_instr=$INSTR
  stop_pid "$VG_PID"
  free_port
  under_callgrind baseline-anon "$BIN/openmonime-bench-baseline" --listen "127.0.0.1:$PORT" --body-bytes "$size_anon"
  url="http://127.0.0.1:$PORT/"
  wait_http "$url" "$VG_PID" 120 || die "baseline under callgrind did not start"
  curl_config "$WORK/cg-base-anon.curl" "$url"
  count baseline_anon "$VG_PID" "$WORK/cg-base-anon.curl"
  base_anon_instr=$INSTR
  stop_pid "$VG_PID"

  mkdir -p "$WORK/cg-sqlite"
  free_port
  under_callgrind openmonime "$BIN/openmonime" serve --database "sqlite:$WORK/cg-sqlite/db.sqlite" \
    --listen "127.0.0.1:$PORT" "${SERVE_FLAGS[@]}"
  OM_URL="http://127.0.0.1:$PORT"
  wait_http "$OM_URL/healthz" "$VG_PID" 120 || die "openmonime under callgrind did not start"
  cp "$WORK/vg-openmonime.out" "$WORK/cg-openmonime.out"
  read_quickstart cg-openmonime
  curl_config "$WORK/cg-root-token.curl" "$OM_URL/" "Authorization: Bearer $TOKEN"
  count root_token "$VG_PID" "$WORK/cg-root-token.curl"
  record ratio "instructions root_token/baseline" "$(ratio "$INSTR" "$base_instr")"
  curl_config "$WORK/cg-root-anon.curl" "$OM_URL/"
  count root_anon "$VG_PID" "$WORK/cg-root-anon.curl"
  record ratio "instructions root_anon/baseline" "$(ratio "$INSTR" "$base_anon_instr")"
  account=$(curl -fs -H "Authorization: Bearer $TOKEN" -H "Monime-Space-Id: $SPACE" "$OM_URL/v1/financial-accounts" |
    grep -o '"id":"fac-[A-Za-z0-9]*"' | head -n 1 | cut -d'"' -f4)
  [ -n "$account" ] || die "no account to read under callgrind"
  curl_config "$WORK/cg-account.curl" "$OM_URL/v1/financial-accounts/$account" \
    "Authorization: Bearer $TOKEN" "Monime-Space-Id: $SPACE"
  count account_get_sqlite "$VG_PID" "$WORK/cg-account.curl"
  stop_pid "$VG_PID"
fi

# ---------------------------------------------------------------------------------------------
# 5. The console (issue 19): each page's server time with CONSOLE_TOKENS tokens of the owner and
#    CONSOLE_EVENTS audit events in the quick-start Space's test environment, all seeded through
#    the API. The server time is the server's own `monime-request-duration` (its middleware's
#    clock, from the request read to the response rendered) over CONSOLE_REQUESTS sequential
#    requests on one keep-alive connection, after CONSOLE_WARMUP to warm up; then one wrk run per
#    page for throughput. Any answer other than 200 fails the step; no speed does.
CONSOLE_PAGES=(tokens review audit audit_filtered audit_nomatch members roles policies webhooks money
  money_transactions)
console_path() { # PAGE: its path under /console/{space}/test
  case "$1" in
    audit_filtered) echo "audit?action=token.create&actor=$MONIMEER" ;; # the oldest events match
    audit_nomatch) echo "audit?action=member.remove" ;; # nothing matches: the whole log is read
    money_transactions) echo "money/transactions" ;;
    *) echo "$1" ;;
  esac
}
# machine_busy_ticks: CPU time of every process on the machine so far (all cores), in clock ticks
machine_busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# postgres_ticks: CPU time of every PostgreSQL process on the machine so far, in clock ticks
# (a process that exits meanwhile is skipped: cat's failure must not fail the step)
postgres_ticks() { { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk '$2 == "(postgres)" { t += $14 + $15 } END { print t + 0 }'; }
# children_ticks: CPU time of this shell's finished children (curl) so far, in clock ticks
children_ticks() {
  times >"$WORK/times.txt"
  awk -v hz="$TICKS_PER_S" 'NR == 2 { t = 0
      for (i = 1; i <= 2; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] }
      printf "%.0f", t * hz }' "$WORK/times.txt"
}

# curl_each CONFIG: runs a curl config file (one transfer per entry, one connection); its
# write-out lines on stdout.
curl_each() { curl -s -K "$1" || die "curl -K $1"; }

# api_config FILE METHOD URL BODY...: one API request per BODY (JSON), each answered with its
# body and a line "HTTP <code>"
api_config() {
  local file=$1 method=$2 url=$3 body i=0
  shift 3
  for body in "$@"; do
    [ $i = 0 ] || echo next
    i=$((i + 1))
    body=${body//\\/\\\\}
    printf 'url = "%s"\nrequest = "%s"\nheader = "Authorization: Bearer %s"\nheader = "Monime-Space-Id: %s"\n' \
      "$url" "$method" "$TOKEN" "$SPACE"
    printf 'header = "Content-Type: application/json"\nheader = "Idempotency-Key: bench-console-%s-%d"\n' "$method" $i
    printf 'data = "%s"\nwrite-out = "\\nHTTP %%{http_code}\\n"\n' "${body//\"/\\\"}"
  done >"$file"
}

# api_batch NAME CONFIG COUNT: sends the requests; fails unless COUNT answers were 2xx
api_batch() {
  local out="$WORK/console-$1.out" ok
  curl_each "$2" >"$out"
  ok=$(grep -c '^HTTP 20[01]$' "$out" || true)
  [ "$ok" = "$3" ] || { grep -v '^HTTP' "$out" | grep -v '"success":true' | head -n 3 >&2; die "$1: $ok of $3 answers were 2xx"; }
}

# count_audit: the events of the Space's test log, through GET /v1/audit-events (50 a page)
count_audit() {
  local after= n=0 body pagination count
  while :; do
    body=$(curl -fsG -H "Authorization: Bearer $TOKEN" -H "Monime-Space-Id: $SPACE" --data-urlencode limit=50 \
      ${after:+--data-urlencode "after=$after"} "$OM_URL/v1/audit-events") || die "GET /v1/audit-events"
    pagination=$(printf '%s' "$body" | grep -o '"pagination":{[^}]*}') || die "no pagination in the audit list"
    count=$(kv count "$pagination")
    n=$((n + count))
    after=$(kv next "$pagination" | tr -d '"')
    [ -n "$after" ] && [ "$after" != null ] || break
  done
  AUDIT_COUNT=$n
}

# console_seed NAME: the owner's tokens (POST /v1/access-tokens, each journals `token.create`),
# then one disabled webhook renamed (PATCH /v1/webhooks/{id}, each journals `webhook.update`)
# until the test log holds CONSOLE_EVENTS events.
console_seed() {
  local name=$1 started bodies=() i hook patches
  started=$(now_ns)
  for i in $(seq 1 "$CONSOLE_TOKENS"); do
    bodies+=("{\"name\":\"bench-console-$i\",\"permissions\":[\"financial-accounts:read\"],\"spaceId\":\"$SPACE\"}")
  done
  api_config "$WORK/console-tokens-$name.curl" POST "$OM_URL/v1/access-tokens" "${bodies[@]}"
  api_batch "tokens-$name" "$WORK/console-tokens-$name.curl" "$CONSOLE_TOKENS"
  record console_seed_s "tokens_$name" "$(awk -v ns=$(($(now_ns) - started)) 'BEGIN { printf "%.1f", ns / 1e9 }')"
  api_config "$WORK/console-hook-$name.curl" POST "$OM_URL/v1/webhooks" \
    '{"name":"bench-console","url":"http://127.0.0.1:9/hook","enabled":false,"apiRelease":"caph","events":["financial_account.created"]}'
  api_batch "webhook-$name" "$WORK/console-hook-$name.curl" 1
  hook=$(grep -o '"id":"whk-[A-Za-z0-9]*"' "$WORK/console-webhook-$name.out" | head -n 1 | cut -d'"' -f4)
  [ -n "$hook" ] || die "no webhook created ($name)"
  count_audit
  patches=$((CONSOLE_EVENTS - AUDIT_COUNT))
  started=$(now_ns)
  if [ $patches -gt 0 ]; then
    bodies=()
    for i in $(seq 1 "$patches"); do bodies+=("{\"name\":\"bench-console-$i\"}"); done
    api_config "$WORK/console-patches-$name.curl" PATCH "$OM_URL/v1/webhooks/$hook" "${bodies[@]}"
    api_batch "patches-$name" "$WORK/console-patches-$name.curl" "$patches"
  fi
  record console_seed_s "events_$name" "$(awk -v ns=$(($(now_ns) - started)) 'BEGIN { printf "%.1f", ns / 1e9 }')"
  count_audit
  [ "$AUDIT_COUNT" -ge "$CONSOLE_EVENTS" ] || die "the test log holds $AUDIT_COUNT events, not $CONSOLE_EVENTS ($name)"
  record console_seeded "audit_events_$name" "$AUDIT_COUNT"
  log "  seeded $CONSOLE_TOKENS tokens and $AUDIT_COUNT audit events"
}

# console_sign_in NAME: spends the quick-start's one-time link as a browser would (GET for the
# form's CSRF value and cookie, POST them back); sets COOKIE to the session's.
console_sign_in() {
  local link headers="$WORK/sign-in-$1.headers" form="$WORK/sign-in-$1.html" csrf pre code
  link=$(grep -o '/console/sign-in/link/[A-Za-z0-9_-]*' "$WORK/$1.out" | head -n 1)
  [ -n "$link" ] || die "no console sign-in link in $1's output"
  code=$(curl -s -D "$headers" -o "$form" -w '%{http_code}' "$OM_URL$link") || die "GET sign-in link"
  [ "$code" = 200 ] || die "the sign-in link answered $code"
  csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$form" | head -n 1)
  pre=$(sed -n 's/^set-cookie: om_sign_in=\([^;]*\).*/\1/Ip' "$headers" | head -n 1)
  [ -n "$csrf" ] && [ -n "$pre" ] || die "no CSRF value or om_sign_in cookie on the link's page"
  code=$(curl -s -D "$headers" -o /dev/null -w '%{http_code}' -H "Cookie: om_sign_in=$pre" \
    --data-urlencode "csrf=$csrf" "$OM_URL$link") || die "POST sign-in link"
  [ "$code" = 303 ] || die "signing in answered $code, not 303"
  COOKIE=$(sed -n 's/^set-cookie: om_console=\([^;]*\).*/\1/Ip' "$headers" | head -n 1)
  [ -n "$COOKIE" ] || die "no om_console cookie after signing in"
}

# console_time NAME URL: CONSOLE_WARMUP + CONSOLE_REQUESTS sequential GETs on one connection;
# records the first one's server time (the page's first request since the server started), then,
# past the warm-up, the server time's p50, p99 (nearest rank) and max, the body size, PostgreSQL's
# CPU per request, and how much CPU every other process on the machine (not the server, curl or
# PostgreSQL) used meanwhile, in % of one core.
console_time() {
  local name=$1 url=$2 cfg="$WORK/console-time-$1.curl" out="$WORK/console-time-$1.txt"
  local busy srv kids pg started n bad p50 p99 max total=$((CONSOLE_WARMUP + CONSOLE_REQUESTS))
  awk -v n="$total" -v url="$url" -v cookie="om_console=$COOKIE" 'BEGIN {
    for (i = 1; i <= n; i++) {
      if (i > 1) print "next"
      printf "url = \"%s\"\nheader = \"Cookie: %s\"\noutput = \"/dev/null\"\n", url, cookie
      print "write-out = \"%{http_code} %header{monime-request-duration} %{size_download}\\n\""
    }
  }' >"$cfg"
  kids=$(children_ticks) pg=$(postgres_ticks) busy=$(machine_busy_ticks) srv=$(cpu_ticks "$SERVER_PID") started=$(now_ns)
  curl_each "$cfg" >"$out"
  busy=$(($(machine_busy_ticks) - busy)) srv=$(($(cpu_ticks "$SERVER_PID") - srv)) kids=$(($(children_ticks) - kids))
  pg=$(($(postgres_ticks) - pg))
  record cpu_others_pct "$name" "$(awk -v t=$((busy - srv - kids - pg)) -v hz="$TICKS_PER_S" -v ns=$(($(now_ns) - started)) \
    'BEGIN { p = t / hz / (ns / 1e9) * 100; printf "%.0f", p < 0 ? 0 : p }')"
  record cpu_postgres_us "$name" "$(awk -v t=$pg -v hz="$TICKS_PER_S" -v n="$total" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }')"
  bad=$(awk '$1 != 200' "$out" | wc -l)
  [ "$bad" = 0 ] || { head -n 3 "$out" >&2; die "console $name: $bad of $total answers were not 200"; }
  n=$(awk '$2 ~ /^[0-9.]+ms$/' "$out" | wc -l)
  [ "$n" = "$total" ] || die "console $name: $n of $total answers carried monime-request-duration"
  record console_ms_first "$name" "$(awk 'NR == 1 { sub(/ms$/, "", $2); print $2 }' "$out")"
  read -r p50 p99 max < <(awk -v w="$CONSOLE_WARMUP" 'NR > w { sub(/ms$/, "", $2); print $2 }' "$out" | sort -g | awk '{ v[++n] = $1 }
    END { r = int(0.99 * n + 0.999999); if (r < 1) r = 1
          print ((n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2), v[r], v[n] }')
  [ -n "$max" ] || die "console $name: no server times"
  record console_ms_p50 "$name" "$p50"
  record console_ms_p99 "$name" "$p99"
  record console_ms_max "$name" "$max"
  record console_body_bytes "$name" "$(awk '{ print $3 }' "$out" | sort -n | tail -n 1)"
  log "  $name: server time p50 $p50 ms, p99 $p99 ms, max $max ms"
}

# console_runs NAME DATABASE_URL: a fresh server, signed in, seeded; every page timed, then
# loaded with wrk.
console_runs() {
  local name=$1 db=$2 page url code n
  start_openmonime "console_$name" "$db"
  SERVER_PID=$OM_PID
  read_quickstart "console_$name"
  console_sign_in "console_$name"
  record loadavg_1m "console_start_$name" "$(cut -d' ' -f1 /proc/loadavg)"
  console_seed "$name"
  log "  timing ${#CONSOLE_PAGES[@]} pages, $CONSOLE_REQUESTS requests each after $CONSOLE_WARMUP to warm up"
  for page in "${CONSOLE_PAGES[@]}"; do
    console_time "${page}_$name" "$OM_URL/console/$SPACE/test/$(console_path "$page")"
  done
  record loadavg_1m "console_timed_$name" "$(cut -d' ' -f1 /proc/loadavg)"
  # the tokens page lists every one of the owner's tokens here: the seeded ones and the quick-start's
  code=$(curl -s -o "$WORK/console-tokens-$name.html" -w '%{http_code}' -H "Cookie: om_console=$COOKIE" \
    "$OM_URL/console/$SPACE/test/tokens")
  [ "$code" = 200 ] || die "the tokens page answered $code ($name)"
  n=$(grep -o '<tr data-token="tok-' "$WORK/console-tokens-$name.html" | wc -l)
  [ "$n" -gt "$CONSOLE_TOKENS" ] || die "the tokens page lists $n tokens, not $((CONSOLE_TOKENS + 1)) ($name)"
  record console_seeded "tokens_$name" "$n"
  for page in "${CONSOLE_PAGES[@]}"; do
    url="$OM_URL/console/$SPACE/test/$(console_path "$page")"
    CPU_PID=$SERVER_PID run_wrk "console_${page}_$name" 8 plain.lua "$url" -H "Cookie: om_console=$COOKIE"
    # wrk counts only 4xx and 5xx as errors: a redirect to the sign-in page would pass it
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: om_console=$COOKIE" "$url")
    [ "$code" = 200 ] || die "console ${page}_$name answered $code after its wrk run"
  done
  memory_of "$SERVER_PID" "server_console_$name"
  stop_pid "$SERVER_PID"
}

CONSOLE_BACKENDS=()
log "the console: $CONSOLE_TOKENS tokens, $CONSOLE_EVENTS audit events (SQLite)"
mkdir -p "$WORK/console-sqlite"
console_runs sqlite "sqlite:$WORK/console-sqlite/db.sqlite"
CONSOLE_BACKENDS+=(sqlite)
if pg_available; then
  PG_VERSION=${PG_VERSION:-$(psql "$PG_ADMIN_URL" -qtAc 'SHOW server_version' 2>/dev/null || echo unknown)}
  log "the console: $CONSOLE_TOKENS tokens, $CONSOLE_EVENTS audit events (PostgreSQL)"
  fresh_pg_db console
  console_runs postgres "$DB_URL"
  CONSOLE_BACKENDS+=(postgres)
fi

# ---------------------------------------------------------------------------------------------
# 6. The results file.
mkdir -p "$OUT_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
md="$OUT_DIR/$stamp.md"
[ "$MODE" = full ] || md="$OUT_DIR/$stamp-smoke.md"
cp "$RESULTS" "${md%.md}.tsv"

# medians: "metric<TAB>name<TAB>median<TAB>n<TAB>min<TAB>max<TAB>samples" (mawk has no asort)
medians() {
  awk -F'\t' '
    { key = $1 "\t" $2; if (!(key in n)) order[++keys] = key; v[key, ++n[key]] = $3 + 0; s[key] = s[key] " " $3 }
    END {
      for (k = 1; k <= keys; k++) {
        key = order[k]; m = n[key]
        for (i = 1; i <= m; i++) a[i] = v[key, i]
        for (i = 2; i <= m; i++) { x = a[i]; j = i - 1; while (j > 0 && a[j] > x) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
        med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
        printf "%s\t%s\t%d\t%s\t%s\t%s\n", key, med, m, a[1], a[m], s[key]
      }
    }' "$RESULTS"
}
medians >"$WORK/medians.tsv"
med() { awk -F'\t' -v m="$1" -v n="$2" '$1 == m && $2 == n { print $3 }' "$WORK/medians.tsv"; }
maxof() { awk -F'\t' -v m="$1" -v n="$2" '$1 == m && $2 == n { print $6 }' "$WORK/medians.tsv"; }
p99of() { # percentile 99 of all samples of a metric (nearest rank)
  awk -F'\t' -v m="$1" -v n="$2" '$1 == m && $2 == n { a[++k] = $3 + 0 }
    END { for (i = 2; i <= k; i++) { x = a[i]; j = i - 1; while (j > 0 && a[j] > x) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
          r = int(0.99 * k + 0.999999); if (r < 1) r = 1; if (k) print a[r] }' "$RESULTS"
}
verdict() { # VALUE OP LIMIT
  [ -n "$1" ] || { echo "not measured"; return; }
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN { ok = (op == ">=") ? (v >= l) : (v <= l); print (ok ? "met" : "**missed**") }'
}

{
  echo "# openmonime benchmark results ($MODE run, $stamp)"
  echo
  [ "$MODE" = smoke ] && echo "Smoke run: one short sample per step; it shows the harness works, not how fast anything is." && echo
  echo "- commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet HEAD -- crates 2>/dev/null || echo ' (working tree differs in crates/)')"
  echo "- machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, $(uname -sr)"
  if [ -z "$ONLY" ]; then
    echo "- load generator: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $WRK_THREADS threads, ${SECONDS_PER_RUN} s per run, $REPS repetition(s), each run interleaved with its reference"
  else
    echo "- only the $ONLY step (\`--only $ONLY\`); load generator: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $WRK_THREADS threads, ${SECONDS_PER_RUN} s per run"
  fi
  echo "- $RATE_LIMIT_NOTE; request log at the default level, to a file"
  [ $PG_RAN = 1 ] && echo "- PostgreSQL $PG_VERSION on 127.0.0.1 (same server for openmonime, the direct driver and pgbench; pgbench scale $PGBENCH_SCALE, 32 clients, 2 threads)"
  if [ -z "$ONLY" ]; then
    echo "- $ACCOUNTS funded accounts; GET /v1/financial-accounts/{id} picks one at random per request, transfers a random distinct pair (1 minor unit, fresh Idempotency-Key each)"
    echo
    echo "## Against the issue's targets"
    echo
    echo "| what | median | target | verdict |"
    echo "|---|---|---|---|"
    r=$(med ratio root_token/baseline); echo "| GET / with a token, 64 conns ÷ baseline | $r | ≥ 0.90 | $(verdict "$r" ">=" 0.90) |"
    r=$(med ratio root_anon/baseline); echo "| GET / without a token, 64 conns ÷ baseline | $r | ≥ 0.95 | $(verdict "$r" ">=" 0.95) |"
    for b in sqlite postgres; do
      r=$(med ratio "account_get_$b/direct")
      [ -n "$r" ] || continue
      echo "| GET /v1/financial-accounts/{id} ($b) ÷ same query direct | $r | ≥ 0.5 | $(verdict "$r" ">=" 0.5) |"
      r=$(med ratio "account_get_$b/http_plus_direct")
      echo "| (restated) the same ÷ the ceiling of bare HTTP plus the query, 1/(1/baseline + 1/direct) | $r | — | — |"
      r=$(med p99_ms "account_get_$b"); echo "| GET /v1/financial-accounts/{id} ($b) p99, 64 conns | $r ms (direct: $(med p99_ms "account_get_direct_$b") ms) | ≤ 5 ms | $(verdict "$r" "<=" 5) |"
      r=$(med p99_ms "account_get_${b}_c8"); echo "| (restated) the same p99 at 8 conns | $r ms (direct: $(med p99_ms "account_get_direct_${b}_c8") ms) | ≤ 5 ms | $(verdict "$r" "<=" 5) |"
    done
    r=$(med ratio transfer_postgres/pgbench)
    [ -n "$r" ] && echo "| POST /v1/internal-transfers (PostgreSQL, 32 conns) ÷ pgbench TPC-B-like | $r | ≥ 0.5 | $(verdict "$r" ">=" 0.5) |"
    r=$(med ratio transfer_sqlite/direct); echo "| POST /v1/internal-transfers (SQLite, 32 conns) ÷ same transaction direct | $r | ≥ 0.5 | $(verdict "$r" ">=" 0.5) |"
    for b in sqlite postgres; do
      r=$(med ratio "transfer_$b/store")
      [ -n "$r" ] || continue
      echo "| (diagnostic) POST /v1/internal-transfers ($b, 32 conns) ÷ \`Store::create_transfer\` called directly: what HTTP, auth and JSON cost | $r ($(med rps "transfer_$b") vs $(med rps "transfer_store_$b") ops/s) | — | — |"
      r=$(med ratio "transfer_store_$b/direct")
      echo "| (diagnostic) \`Store::create_transfer\` called directly ($b) ÷ run 6's statements direct: what the store's extra work costs | $r ($(med rps "transfer_store_$b") vs $(med rps "transfer_direct_$b") ops/s) | — | — |"
    done
    for b in sqlite postgres; do
      r=$(med ratio "payout_$b/transfer")
      [ -n "$r" ] || continue
      echo "| POST /v1/payouts ($b, 32 conns) ÷ POST /v1/internal-transfers of the same rep | $r ($(med rps "payout_$b") vs $(med rps "transfer_$b") req/s) | — | — |"
    done
    for b in sqlite postgres; do
      r=$(maxof vmhwm_mib "server_$b")
      [ -n "$r" ] && echo "| peak resident memory under the load above ($b) | $r MiB | ≤ 100 MiB | $(verdict "$r" "<=" 100) |"
    done
    r=$(med ratio "cpu root_token/baseline")
    [ -n "$r" ] && echo "| (diagnostic) server CPU per \`GET /\` with a token ÷ baseline's ($(med cpu_us root_token) vs $(med cpu_us baseline_token) µs) | $r | — | — |"
    r=$(med ratio "cpu root_anon/baseline")
    [ -n "$r" ] && echo "| (diagnostic) server CPU per \`GET /\` without a token ÷ baseline's ($(med cpu_us root_anon) vs $(med cpu_us baseline_anon) µs) | $r | — | — |"
    r=$(med ratio "instructions root_token/baseline")
    [ -n "$r" ] && echo "| (diagnostic) instructions per \`GET /\` with a token ÷ baseline's (callgrind) | $r | — | — |"
    r=$(med ratio "instructions root_anon/baseline")
    [ -n "$r" ] && echo "| (diagnostic) instructions per \`GET /\` without a token ÷ baseline's (callgrind) | $r | — | — |"
    r=$(med startup_ms sqlite_empty); echo "| start to first answered request, empty SQLite | $r ms | ≤ 200 ms | $(verdict "$r" "<=" 200) |"
    r=$(p99of revocation_ms postgres_node2)
    [ -n "$r" ] && echo "| revocation seen by a second node (PostgreSQL), p99 of $REVOCATIONS | $r ms | ≤ 1000 ms | $(verdict "$r" "<=" 1000) |"
    wedged=$(awk -F'\t' '$1 == "wedged" && $3 == 1' "$RESULTS" | wc -l)
    if [ "$wedged" -gt 0 ]; then
      echo
      echo "**Writes wedged after $wedged transfer run(s)**: once wrk closed its connections, every write failed"
      echo "with \"database is locked\" until the server was restarted (see metric \`wedged\` and BENCHMARKS.md)."
    fi
  fi
  if [ ${#CONSOLE_BACKENDS[@]} -gt 0 ]; then
    echo
    echo "## The console (issue 19): server time per page"
    echo
    echo "Per backend, a fresh server: $CONSOLE_TOKENS tokens of the owner created through \`POST /v1/access-tokens\`,"
    echo "then the Space's test log filled to $CONSOLE_EVENTS audit events or more (one webhook renamed through"
    echo "\`PATCH /v1/webhooks/{id}\`, each a journalled change; counted back through \`GET /v1/audit-events\`),"
    echo "signed in with the quick-start's one-time link. Server time: the server's own"
    echo "\`monime-request-duration\` over $CONSOLE_REQUESTS sequential requests on one keep-alive connection, after"
    echo "$CONSOLE_WARMUP to warm up (p99: nearest rank); \"first\" is the first of those warm-up requests, the page's"
    echo "first since the server started (the tokens page is the first page requested). Then wrk: 8"
    echo "connections, ${SECONDS_PER_RUN} s per page. Target: every page ≤ 50 ms of server time (judged on the p99)."
    echo "\"Others' CPU\": what the processes on the machine other than the"
    echo "server, curl and PostgreSQL used while a page was timed, in % of one core (the machine has $(nproc));"
    echo "a high figure means a disturbed sample. \"PostgreSQL CPU\": its processes' CPU time per timed request."
    [ -n "${PG_VERSION:-}" ] && [[ " ${CONSOLE_BACKENDS[*]} " == *" postgres "* ]] && echo && echo "PostgreSQL $PG_VERSION on 127.0.0.1."
    for b in "${CONSOLE_BACKENDS[@]}"; do
      echo
      echo "### $b: $(med console_seeded "tokens_$b") tokens listed, $(med console_seeded "audit_events_$b") audit events"
      echo
      echo "Load average (1 min): $(med loadavg_1m "console_start_$b") before seeding, $(med loadavg_1m "console_timed_$b") after the timed requests."
      echo "Seeding took $(med console_seed_s "tokens_$b") s for the tokens and $(med console_seed_s "events_$b") s for the other events."
      echo
      db_column=
      [ "$b" = postgres ] && db_column=1
      echo "| page | p50 server time | p99 server time | max | ≤ 50 ms (p99) | first | others' CPU |${db_column:+ PostgreSQL CPU |} body | wrk req/s | wrk p50 | wrk p99 | server CPU per request |"
      echo "|---|---|---|---|---|---|---|${db_column:+---|}---|---|---|---|---|"
      for page in "${CONSOLE_PAGES[@]}"; do
        n="${page}_$b"
        r=$(med console_ms_p99 "$n")
        echo "| \`$(console_path "$page" | sed 's/actor=mmr-[A-Za-z0-9]*/actor=<owner>/')\` | $(med console_ms_p50 "$n") ms | $r ms |" \
          "$(med console_ms_max "$n") ms | $(verdict "$r" "<=" 50) | $(med console_ms_first "$n") ms | $(med cpu_others_pct "$n") % |${db_column:+ $(med cpu_postgres_us "$n") µs |}" \
          "$(med console_body_bytes "$n") B |" \
          "$(med rps "console_$n") | $(med p50_ms "console_$n") ms | $(med p99_ms "console_$n") ms | $(med cpu_us "console_$n") µs |"
      done
    done
  fi
  echo
  echo "## Every figure (median of the samples; min, max and samples follow)"
  echo
  echo "| metric | what | median | n | min | max | samples |"
  echo "|---|---|---|---|---|---|---|"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$WORK/medians.tsv"
  echo
  echo "Names: \`root_*\` is openmonime's \`GET /\`, \`baseline_*\` the bare axum server with a body of the same size;"
  echo "\`*_direct_*\` is bench/direct issuing the same SQL through the same driver and pool (for transfers, the"
  echo "statements of run 6); \`transfer_store_*\` is bench/direct calling \`Store::create_transfer\` as the API's"
  echo "handler does, with no HTTP, JSON or authorization in front; \`pgbench_tpcb\` is"
  echo "pgbench's built-in TPC-B-like script (p50_ms there is pgbench's average latency); \`console_ms_*\` is a"
  echo "console page's server time (\`monime-request-duration\`) and \`console_<page>_<backend>\` wrk against it."
} >"$md"

log "results: $md"
cat "$md"
