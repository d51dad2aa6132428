// What both browser tests share: a real `openmonime serve` on a free loopback port with a fresh
// database and JSON logs (its quick-start line read from the log), and Debian's Chromium launched
// headless through playwright-core.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const bin = process.env.OPENMONIME_BIN ?? join(root, "target", "debug", "openmonime");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// A port nothing listens on now.
export function freePort() {
  return new Promise((r) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const p = probe.address().port;
      probe.close(() => r(p));
    });
  });
}

/// The quick start's line in the JSON log (`monimeer`, `space`, `create_token`).
function quickStart(log) {
  for (const line of log.split("\n")) {
    try {
      const fields = JSON.parse(line).fields;
      if (fields && fields.monimeer && fields.space) return fields;
    } catch {}
  }
  return null;
}

/// Starts the server on `database`; resolves to { server, base, quickStart } once the quick-start
/// line is logged. The caller stops `server`.
export async function startServer(database) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let log = "";
  const server = spawn(bin, ["serve", "--listen", `127.0.0.1:${port}`, "--database", database, "--rate-limits", "off", "--log-format", "json"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  server.stderr.on("data", (c) => (log += c));
  for (let i = 0; i < 200; i++) {
    const fields = quickStart(log);
    if (fields) return { server, base, quickStart: fields };
    await sleep(50);
  }
  server.kill("SIGTERM");
  throw new Error(`no quick-start line in the server's log:\n${log}`);
}

/// Headless Chromium with the flags a sandboxed machine needs.
export function launchChromium() {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
}
