#!/usr/bin/env bash
# The README's quick start, run as a newcomer would: a fresh clone in an empty temporary directory,
# the README's run command, the README's authenticated curl with the token and Space the server
# printed, then SIGTERM and a clean exit. The commands are read from README.md, so the README
# cannot drift from what CI runs.
#
# The clone shares this checkout's target directory (set QUICKSTART_OWN_TARGET=1 to build from
# nothing): the dependencies are already compiled there, the clone's own crates are rebuilt.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "quick start: $*" >&2; exit 1; }

# The "## Quick start" section, up to the next heading.
section=$(awk '/^## Quick start/{on=1; next} /^## /{on=0} on' "$root/README.md")
[ -n "$section" ] || die "README.md has no '## Quick start' section"
# The run command: the line starting with `cargo run`, without its comment.
run_cmd=$(printf '%s\n' "$section" | grep -m1 -E '^cargo run ' | sed -E 's/[[:space:]]+#.*$//')
[ -n "$run_cmd" ] || die "no 'cargo run …' line in the quick start"
# The authenticated example: the curl command carrying `Authorization`, with its continuation lines.
curl_cmd=$(printf '%s\n' "$section" | awk '
  /^curl .*Authorization/ { on=1 }
  on { line=$0; sub(/\\[[:space:]]*$/, "", line); printf "%s ", line; if ($0 !~ /\\[[:space:]]*$/) exit }')
[ -n "$curl_cmd" ] || die "no authenticated curl example in the quick start"
echo "run command:  $run_cmd"
echo "curl example: $curl_cmd"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

git clone --quiet "$root" "$work/openmonime"
cd "$work/openmonime"
if [ "${QUICKSTART_OWN_TARGET:-0}" != 1 ]; then export CARGO_TARGET_DIR="$root/target"; fi

port=8080
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  die "port $port is in use on this machine; the README's commands use it"
fi

# The README's command, as written (cargo execs the server, so its pid is the server's).
bash -c "exec $run_cmd" >"$work/stdout" 2>"$work/stderr" &
server_pid=$!

# Wait for GET / (the first run compiles; allow for that).
deadline=$((SECONDS + 1800))
until curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/stderr" >&2; die "the server exited before answering"; }
  [ $SECONDS -lt $deadline ] || die "no answer on GET / within 30 minutes"
  sleep 1
done

space=$(grep -m1 -oE 'Space: +spc-[A-Za-z0-9]+' "$work/stdout" | grep -oE 'spc-[A-Za-z0-9]+' || true)
token=$(grep -m1 -oE '^ +mon_test_[A-Za-z0-9]+$' "$work/stdout" | tr -d ' ' || true)
[ -n "$space" ] && [ -n "$token" ] || { cat "$work/stdout" >&2; die "the quick-start Space and token were not printed"; }
if grep -q "$token" "$work/stderr"; then die "the token reached the log stream"; fi

# The README's placeholders are `mon_test_…` and `spc-…`.
cmd=${curl_cmd//mon_test_…/$token}
cmd=${cmd//spc-…/$space}
status=$(eval "$cmd -sS -o '$work/body' -w '%{http_code}'")
[ "$status" = 200 ] || { cat "$work/body" >&2; die "the curl example answered $status, not 200"; }
python3 - "$work/body" <<'PY' || die "the curl example's answer is not the documented envelope"
import json, sys
body = json.load(open(sys.argv[1]))
assert body["success"] is True, body
assert isinstance(body["messages"], list), body
accounts = body["result"]
assert isinstance(accounts, list) and accounts, body
main = [a for a in accounts if a["reference"] == "main"]
assert main and main[0]["id"].startswith("fac-"), body
assert main[0]["balance"]["available"]["currency"] == "SLE", body
print("quick start: the curl example answered 200 with", len(accounts), "account(s)")
PY

kill -TERM "$server_pid"
deadline=$((SECONDS + 30))
while kill -0 "$server_pid" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || die "the server did not stop within 30 s of SIGTERM"
  sleep 0.2
done
set +e
wait "$server_pid"
code=$?
set -e
server_pid=""
[ "$code" = 0 ] || { cat "$work/stderr" >&2; die "the server exited $code on SIGTERM, not 0"; }
echo "quick start: passed (served, answered the README's curl, stopped cleanly)"
