#!/usr/bin/env bash
# The hosted checkout page and the handset simulator in a real browser (browser/checkout.test.mjs).
# Installs what it needs: Debian's chromium (no browser build can be downloaded here) and
# playwright-core (pinned in browser/package-lock.json); builds openmonime; runs `node --test`.
# Screenshots land in docs/screenshots/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
log() { echo "browser: $*" >&2; }

if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian's chromium"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
npm_ci=(npm ci --prefix "$here" --no-audit --no-fund --loglevel=error)
"${npm_ci[@]}" >/dev/null || { sleep 5; "${npm_ci[@]}" >/dev/null; }  # once more, for a registry hiccup
(cd "$root" && cargo build -q -p openmonime)
node --test --test-reporter=spec "$here/checkout.test.mjs"
