#!/usr/bin/env bash
# Schema-driven fuzzing: schemathesis against a live openmonime on an empty SQLite database, after
# an existing Monime client (conformance/clients) has run against it unchanged.
#
#   bash conformance/run.sh          # the long run, for people (up to 300 cases per operation)
#   bash conformance/run.sh --ci     # the bounded run .ci/run makes (a few minutes in all)
#   bash conformance/run.sh [--ci] -- --seed 42     # anything after `--` goes to both schemathesis runs
#
# It builds `openmonime` (debug), installs schemathesis (pinned below) into conformance/.venv,
# starts `openmonime serve` on a free loopback port with rate limits off and JSON logs, reads the
# quick-start owner and Space from its log and mints their test token with the admin command the
# log line gives, credits the Space's main account, then runs schemathesis twice,
# authenticated as that token in that Space:
#   (a) with our own document, GET /openapi.json: every operation, with status-code conformance,
#       since our document lists every status each operation can answer;
#   (b) with Monime's official document (../shared/reference/monime-openapi.yaml beside the repo, or
#       $OPENMONIME_OFFICIAL_OPENAPI), restricted to the operations our document also has, against
#       our server. That document describes only the 200 answers, so status-code conformance is off.
# Both require: no 5xx, every response valid against the document's schema, every 4xx in our error
# envelope (the `openmonime_error_envelope` check in conformance/hooks.py), and the other checks
# listed in checks_* below. Afterwards the server must not have panicked and `openmonime admin
# ledger verify` must pass. Exit status is non-zero on any failure; the server is stopped on exit.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
official=${OPENMONIME_OFFICIAL_OPENAPI:-$(dirname "$root")/shared/reference/monime-openapi.yaml}

ci=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --ci) ci=1 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$ci" = 1 ]; then
  # Bounded: each run stops after this many seconds whatever is left; every phase still runs.
  budget=(--max-examples 25 --max-time 75)
else
  budget=(--max-examples 300 --max-time 600)  # at most ten minutes per document
fi

# Checks both runs apply. `positive_data_acceptance` is not among them: it demands a 2xx for every
# schema-valid input, and neither document can say that an account must exist, a currency be one we
# hold, a transfer's source differ from its destination, a name not be blank, a cursor be one we
# issued, metadata values be short strings or an Idempotency-Key not be empty. Those inputs get a
# precise 400 (naming the field) or 404 in the envelope instead, which the envelope check verifies.
checks_common=not_a_server_error,response_schema_conformance,content_type_conformance,response_headers_conformance,negative_data_rejection,missing_required_header,ignored_auth,unsupported_method,allow_header_conformance,use_after_free,ensure_resource_availability,openmonime_error_envelope
checks_own=$checks_common,status_code_conformance
checks_official=$checks_common

log() { printf '== %s\n' "$*" >&2; }

[ -f "$official" ] || { echo "run.sh: Monime's official document is not at $official" >&2; exit 2; }

log "building openmonime"
(cd "$root" && cargo build -q -p openmonime)
bin="$root/target/debug/openmonime"

venv="$here/.venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qx "schemathesis, version $SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  install=("$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION")
  "${install[@]}" || { sleep 5; "${install[@]}"; }  # once more, for a registry hiccup
fi
py="$venv/bin/python"

work=$(mktemp -d "${TMPDIR:-/tmp}/openmonime-conformance.XXXXXX")
server_pid=
cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ]; then
    echo "run.sh: failed; the server's log and the reports are in $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

database="sqlite:$work/db"
start_server() {
  local port
  port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin" serve --listen "127.0.0.1:$port" --database "$database" --rate-limits off --log-format json \
    >"$work/server.out" 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
      base="http://127.0.0.1:$port"
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  return 1
}
log "starting openmonime serve on an empty database"
started=0
for _ in 1 2 3; do  # a port picked free can be taken before the server binds it
  if start_server; then started=1; break; fi
  rm -f "$work"/db*
done
[ "$started" = 1 ] || { cat "$work/server.log" >&2; echo "run.sh: the server did not start" >&2; exit 1; }

# With JSON logs the quick start creates an owner and a Space but no token (a token must not be a
# line in a log stream; crates/cli/src/quickstart.rs): its log line names both and carries
# `create_token`, the admin command that mints one, which is run here as an operator would.
quickstart_line() {
  "$py" - "$work/server.log" <<'EOF'
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try:
        fields = json.loads(line)["fields"]
    except (ValueError, KeyError, TypeError):
        continue
    if "create_token" in fields:
        print(fields["monimeer"], fields["space"], fields["create_token"])
        break
EOF
}
line=""
for _ in $(seq 1 50); do  # the log is written by a background thread; give it a moment
  line=$(quickstart_line)
  [ -n "$line" ] && break
  sleep 0.1
done
read -r owner space create_token <<<"$line"
if [ -z "${create_token:-}" ] || [ -z "$space" ] || [ -z "$owner" ]; then
  cat "$work/server.log" >&2
  echo "run.sh: no quick-start line (owner, Space, create_token) in the server's log" >&2
  exit 1
fi
read -ra mint <<<"$create_token"
minted=$("$bin" "${mint[@]:1}" --database "$database" --json)
token=$(printf '%s' "$minted" | "$py" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
token_id=$(printf '%s' "$minted" | "$py" -c 'import json, sys; print(json.load(sys.stdin)["id"])')
if grep -q "$token" "$work/server.out" "$work/server.log"; then
  echo "run.sh: the quick-start token reached the server's output" >&2
  exit 1
fi
auth=(-H "Authorization: Bearer $token" -H "Monime-Space-Id: $space")

# Fund the main account, so that transfers from it complete and write ledger entries.
main_account=$(curl -fsS "${auth[@]}" "$base/v1/financial-accounts?reference=main" |
  "$py" -c 'import json, sys; print(json.load(sys.stdin)["result"][0]["id"])')
"$bin" admin --database "$database" ledger credit --space "$space" --env test \
  --account "$main_account" --amount 100000000000 --reference conformance-funding >/dev/null
# A second account to transfer to, and a second person to add to the Space (hooks.py steers some
# generated ids towards these, see there).
peer_account=$(curl -fsS "${auth[@]}" -H "Idempotency-Key: conformance-peer" -H "Content-Type: application/json" \
  -d '{"name": "Conformance peer", "currency": "SLE", "reference": "conformance-peer"}' \
  "$base/v1/financial-accounts" | "$py" -c 'import json, sys; print(json.load(sys.stdin)["result"]["id"])')
peer_monimeer=$("$bin" admin --database "$database" --json monimeer create --name "Conformance peer" |
  "$py" -c 'import json, sys; print(json.load(sys.stdin)["id"])')
log "server $base, Space $space, main account $main_account funded, peer account $peer_account"

# An existing Monime client, written against Monime's own API and never against this server, runs
# unchanged: monime-package (npm, pinned in conformance/clients/package-lock.json) creates, reads,
# lists and deletes a payment code.
log "monime-package against the server"
npm_ci=(npm ci --prefix "$here/clients" --no-audit --no-fund --loglevel=error)
"${npm_ci[@]}" >/dev/null || { sleep 5; "${npm_ci[@]}" >/dev/null; }  # once more, for a registry hiccup
if ! OPENMONIME_URL="$base" OPENMONIME_TOKEN="$token" OPENMONIME_SPACE="$space" \
  node "$here/clients/payment-codes.cjs" >"$work/monime-package.txt" 2>&1; then
  cat "$work/monime-package.txt" >&2
  echo "run.sh: monime-package FAILED against openmonime" >&2
  exit 1
fi
tail -n 1 "$work/monime-package.txt"

curl -fsS "$base/openapi.json" -o "$work/openapi.json"
mapfile -t operations < <("$py" - "$work/openapi.json" "$official" <<'EOF'
import json, sys, yaml
own = json.load(open(sys.argv[1]))
official = yaml.safe_load(open(sys.argv[2]))
def ids(doc):
    return {op["operationId"] for item in doc["paths"].values() for op in item.values()
            if isinstance(op, dict) and "operationId" in op}
for operation_id in sorted(ids(own) & ids(official)):
    print(operation_id)
EOF
)
[ "${#operations[@]}" -gt 0 ] || { echo "run.sh: no operation in common with the official document" >&2; exit 1; }

export SCHEMATHESIS_HOOKS=hooks
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
# For hooks.py: what the run must not lose (its token, the token's owner) and what it may steer to.
export OPENMONIME_FUZZ_TOKEN_ID="$token_id" OPENMONIME_FUZZ_OWNER="$owner"
export OPENMONIME_FUZZ_SPACE="$space" OPENMONIME_FUZZ_MONIMEER="$peer_monimeer"
export OPENMONIME_FUZZ_ACCOUNTS="$main_account,$peer_account"

# One worker: with two, hypothesis describes lambdas from two threads at once and CPython 3.11 can
# fail inside `ast.parse` ("AST constructor recursion depth mismatch"), an error of the tool.
common=(
  -H "Authorization: Bearer $token" -H "Monime-Space-Id: $space"
  --workers 1 --generation-database none --no-color "${budget[@]}"
)

failed=0
log "schemathesis (a): our own document, $base/openapi.json"
(cd "$work" && "$venv/bin/schemathesis" run "$base/openapi.json" --url "$base" \
  --checks "$checks_own" "${common[@]}" --report junit --report-dir "$work/report-own" \
  ${extra[@]+"${extra[@]}"}) || failed=1

include=()
for operation in "${operations[@]}"; do include+=(--include-operation-id "$operation"); done
log "schemathesis (b): Monime's official document, ${#operations[@]} operations: ${operations[*]}"
(cd "$work" && "$venv/bin/schemathesis" run "$official" --url "$base" "${include[@]}" \
  --checks "$checks_official" "${common[@]}" --report junit --report-dir "$work/report-official" \
  ${extra[@]+"${extra[@]}"}) || failed=1

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "run.sh: the server died during the run" >&2
  failed=1
fi
# What the two runs reached: answers per operation by status class, from the server's request log.
"$py" - "$work/server.log" <<'EOF' >&2 || true
import collections, json, sys
counts = collections.defaultdict(collections.Counter)
for line in open(sys.argv[1], errors="replace"):
    try:
        fields = json.loads(line)["fields"]
    except (ValueError, KeyError, TypeError):
        continue
    if fields.get("message") == "request" and str(fields.get("route", "")).startswith("/v1"):
        status = str(fields["status"])
        counts[f'{fields["method"]} {fields["route"]}'][status if status == "405" else status[0] + "xx"] += 1
print("== answers per operation, both runs (2xx, 4xx, 5xx)")
for route in sorted(counts, key=lambda r: (r.split()[1], r.split()[0])):
    c = counts[route]
    if c["2xx"] + c["4xx"] + c["5xx"]:  # not a method the route lacks (405 only)
        print(f'  {c["2xx"]:6} {c["4xx"]:6} {c["5xx"]:6}  {route}')
EOF

# Whatever the fuzzer did, the ledger must still balance.
if ! "$bin" admin --database "$database" ledger verify >"$work/ledger-verify.txt" 2>&1; then
  echo "run.sh: the ledger invariants no longer hold after fuzzing:" >&2
  cat "$work/ledger-verify.txt" >&2
  failed=1
fi
if grep -q 'panicked' "$work/server.log"; then
  echo "run.sh: the server panicked:" >&2
  grep -m5 'panicked' "$work/server.log" >&2
  failed=1
fi
if [ "$failed" -ne 0 ]; then
  echo "run.sh: schema-driven fuzzing FAILED" >&2
  exit 1
fi
log "schema-driven fuzzing passed"
