#!/usr/bin/env bash
# The browser tests, in headless Chromium: the hosted checkout page and the handset simulator
# (browser/checkout.test.mjs), and the web console: sign-in by link and password, tokens made,
# used, rotated and revoked, a viewer's and a forged form's refusals, keyboard-only use, sign-out
# (browser/console.test.mjs). Each file starts its own server on a fresh SQLite database.
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
node --test --test-reporter=spec "$here/checkout.test.mjs" "$here/console.test.mjs"
