// The web console in a real browser: Debian's headless Chromium, driven by playwright-core,
// against a real `openmonime serve` on a fresh SQLite database (its own server, not the checkout
// test's). People, memberships, sign-in links and passwords are set up with the admin CLI against
// the same database; tokens are made, rotated and revoked through the console's forms and tried
// against the API from Node (a browser-sent token is refused by design). The steps run in order
// and share the owner's browser session. Screenshots of each page at phone and desktop width go to
// docs/screenshots/console-*.png. Run by browser/run.sh; `node --test` reports the results.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root, bin, startServer, launchChromium } from "./harness.mjs";

const shots = join(root, "docs", "screenshots");
const sizes = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };
const password = "correct horse battery staple";

let server, base, space, browser;
let owner; // { id, context, page }: the quick start's owner, signed in by step a, signed out by step i
let viewer; // { id, name, context, page }
let writer; // { id, name, email }: signs in with a password
let tokensUrl;
const tokens = {}; // what the steps pass on: the first token's id and secret, its successor's
const work = mkdtempSync(join(tmpdir(), "openmonime-console-"));
const database = `sqlite:${join(work, "db")}`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// Polls `probe` until it returns something truthy, or fails with `what` after `ms`.
async function until(what, probe, ms = 5000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await probe();
    if (last) return last;
    await sleep(50);
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

/// An admin command against the test's database, with `--json`; its answer parsed.
function admin(args, input) {
  const out = execFileSync(bin, ["admin", ...args, "--database", database, "--json"], { input, stdio: ["pipe", "pipe", "pipe"] });
  return JSON.parse(out.toString());
}

function signInLink(monimeer) {
  const link = admin(["monimeer", "sign-in-link", "--monimeer", monimeer, "--public-url", base]);
  assert.match(link.url, new RegExp(`^${base}/console/sign-in/link/[A-Za-z0-9]+$`));
  return link.url;
}

/// `GET /v1/financial-accounts` with a token, from Node: its status and JSON.
async function accounts(secret) {
  const res = await fetch(`${base}/v1/financial-accounts`, {
    headers: { Authorization: `Bearer ${secret}`, "Monime-Space-Id": space },
  });
  return { status: res.status, json: await res.json() };
}

function stopServer() {
  if (server && server.exitCode === null && server.signalCode === null) server.kill("SIGTERM");
}
// Whatever happens to the test (a failed hook, an uncaught error), the server does not outlive it.
process.once("exit", stopServer);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    stopServer();
    process.exit(1);
  });
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  let fields;
  ({ server, base, quickStart: fields } = await startServer(database));
  await until("the server to answer", () => fetch(`${base}/console/sign-in`).then((r) => r.ok, () => false));
  space = fields.space;
  tokensUrl = `${base}/console/${space}/test/tokens`;

  const v = admin(["monimeer", "create", "--name", "Vera Viewer", "--email", "vera@example.test"]);
  admin(["member", "add", "--space", space, "--monimeer", v.id, "--role", "viewer"]);
  viewer = { id: v.id, name: "Vera Viewer" };
  const w = admin(["monimeer", "create", "--name", "Priya Password", "--email", "priya@example.test"]);
  admin(["member", "add", "--space", space, "--monimeer", w.id, "--role", "developer"]);
  admin(["monimeer", "set-password", "--monimeer", w.id], `${password}\n`);
  writer = { id: w.id, name: "Priya Password", email: "priya@example.test" };
  owner = { id: fields.monimeer };

  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  stopServer();
  rmSync(work, { recursive: true, force: true });
});

/// A fresh browser profile (no cookies), at desktop size; a step that cannot find what it waits
/// for fails within 10 s rather than Playwright's 30.
async function newContext() {
  const context = await browser.newContext({ viewport: sizes.desktop });
  context.setDefaultTimeout(10_000);
  return context;
}

async function screenshots(page, name) {
  for (const [size, viewport] of Object.entries(sizes)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(shots, `console-${name}-${size}.png`), fullPage: true });
  }
}

/// Submits a form built in the page (as a script-free attacker or a replayed request would): a real
/// browser POST with its Origin and cookies. Answers the response and its HTML.
async function replayForm(page, action, fields) {
  const url = new URL(action, base).href;
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === url && r.request().method() === "POST"),
    page.evaluate(
      ({ url, fields }) => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = url;
        for (const [name, value] of fields) {
          const input = document.createElement("input");
          input.type = "hidden";
          input.name = name;
          input.value = value;
          form.append(input);
        }
        document.body.append(form);
        form.submit();
      },
      { url, fields },
    ),
  ]);
  const html = await response.text();
  await page.waitForLoadState("load");
  return { status: response.status(), html };
}

/// The session's CSRF value, as every page's sign-out form carries it.
function csrfOf(page) {
  return page.locator('form[action="/console/sign-out"] input[name=csrf]').inputValue();
}

/// The reason a console page gives for a refusal (or its alert), to say why a step failed.
function reasonOf(html) {
  return (
    html.match(/Reason: <code>([^<]*)<\/code>/)?.[1] ??
    html.match(/role="alert">([^<]*)</)?.[1] ??
    html.replace(/<style[\s\S]*?<\/style>/, "").replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").slice(0, 300)
  );
}

/// Does `act` (a click or key press that sends a form) and waits for the form's answer; fails at
/// once, with the page's reason, when its status is not `status`. A redirect is then followed to
/// `landing`; another answer is waited for until `ready` (a selector) is on the new page.
async function send(page, act, status, { landing, ready } = {}) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && r.url().startsWith(base)),
    act(),
  ]);
  if (res.status() !== status) {
    const body = await res.text().catch(() => "");
    assert.fail(`${res.request().url()} answered ${res.status()}, not ${status}: ${reasonOf(body)}`);
  }
  if (landing) await page.waitForURL(landing);
  if (ready) await page.waitForSelector(ready);
  return res;
}

/// Opens the owner's (or anyone's) tokens page, failing at once when the browser is not signed in.
async function openTokens(page, url = tokensUrl) {
  await page.goto(url);
  assert.equal(page.url(), url, "signed in (not sent to the sign-in page)");
}

const row = (page, id) => page.locator(`tr[data-token="${id}"]`);
const statusOf = (page, id) => row(page, id).locator('td[class^="status-"]').textContent();

/// Every visible form control has a name a screen reader can read.
async function unlabelled(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
      .filter((el) => (!el.labels || el.labels.length === 0) && !el.getAttribute("aria-label"))
      .map((el) => el.outerHTML),
  );
}

test("a: a one-time link signs the owner in, once", async () => {
  const link = signInLink(owner.id);
  owner.context = await newContext();
  owner.page = await owner.context.newPage();
  const page = owner.page;
  const shown = await page.goto(link);
  assert.equal(shown.status(), 200);
  assert.equal(shown.headers()["cache-control"], "no-store");
  assert.match(await page.textContent("h1"), /Sign in/);
  const cont = page.getByRole("button", { name: /^Continue as / });
  assert.equal(await cont.textContent(), "Continue as Quick-start owner");
  await screenshots(page, "sign-in-link");

  await send(page, () => cont.click(), 303, { landing: tokensUrl });
  assert.match(await page.textContent("h1"), /^Your tokens in .+ \(test\)$/);
  assert.match(await page.textContent("header"), /Quick-start owner/);
  const session = (await owner.context.cookies()).find((c) => c.name === "om_console");
  assert.ok(session, "a session cookie");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.equal(session.path, "/console");
  assert.deepEqual(
    await page.locator("nav.sections a").allTextContents(),
    ["Tokens", "Members", "Roles", "Policies", "Audit log", "Webhooks", "Money"],
  );
  assert.equal(await page.getAttribute('nav.sections a[aria-current="page"]', "href"), `/console/${space}/test/tokens`);
  assert.equal(await page.locator("#space-switch").count(), 1);
  assert.equal(await page.locator(".live-banner").count(), 0, "no live banner in test");
  assert.deepEqual(await unlabelled(page), []);

  // The same link again, in a browser with no session: refused, and nothing signs in, not even
  // its form posted with a valid sign-in CSRF value.
  const other = await newContext();
  const again = await other.newPage();
  const second = await again.goto(link);
  assert.equal(second.status(), 410);
  assert.match(await again.getByRole("alert").textContent(), /has been used or has expired/);
  assert.equal(await again.getByRole("button", { name: /^Continue as / }).count(), 0);
  const csrf = await again.locator("input[name=csrf]").inputValue();
  const replayed = await replayForm(again, link, [["csrf", csrf]]);
  assert.equal(replayed.status, 410);
  assert.match(replayed.html, /has been used or has expired/);
  assert.equal((await other.cookies()).filter((c) => c.name === "om_console").length, 0, "no session cookie");
  await again.goto(tokensUrl);
  assert.equal(again.url(), `${base}/console/sign-in`);
  await other.close();
});

test("b: a token made with the form shows its secret once", async () => {
  const page = owner.page;
  await openTokens(page);
  await page.fill("#name", "ledger-sync");
  await page.check('input[name=permission][value="financial-accounts:read"]');
  await page.check('input[name=permission][value="financial-transactions:read"]');
  assert.equal(await page.inputValue("#expiresIn"), "90d", "expiry defaults to 90 days");
  assert.equal(await page.isChecked('input[name=binding][value="space"]'), true, "bound to this Space by default");
  const created = await send(page, () => page.getByRole("button", { name: "Create token" }).click(), 200, { ready: "#secret" });
  assert.equal(created.url(), tokensUrl);
  assert.equal(created.headers()["cache-control"], "no-store");
  assert.equal(await page.textContent("h1"), "Token created: ledger-sync");
  assert.equal(await page.getAttribute("#secret", "readonly"), "");
  const secret = await page.inputValue("#secret");
  assert.ok(secret.length >= 20, `a secret: ${secret}`);
  const id = (await page.textContent('label[for="secret"]')).match(/\((tok-[A-Za-z0-9]+)\)/)?.[1];
  assert.ok(id, "the label names the token");
  assert.equal(await page.getByRole("button", { name: "Copy" }).getAttribute("id"), "copy");
  tokens.first = { id, secret };
  await screenshots(page, "token-created");

  // Back to the list, and a reload of it: the secret is nowhere.
  await Promise.all([page.waitForURL(tokensUrl), page.getByRole("link", { name: "Back to your tokens" }).click()]);
  assert.ok(!(await page.content()).includes(secret), "the list does not show the secret");
  assert.equal(await statusOf(page, id), "ACTIVE");
  assert.match(await row(page, id).textContent(), /ledger-sync/);
  assert.match(await row(page, id).textContent(), /financial-accounts:read/);
  assert.equal((await row(page, id).locator(".last-used").textContent()).trim(), "never");
  const reloaded = await page.reload();
  assert.ok(!(await reloaded.text()).includes(secret), "a reload does not show the secret");
  assert.ok(!(await page.content()).includes(secret));
});

test("c: the token works against the API, and the list shows where it was used", async () => {
  const { id, secret } = tokens.first;
  const used = await accounts(secret);
  assert.equal(used.status, 200, JSON.stringify(used.json));
  const page = owner.page;
  const lastUsed = await until("the row's last use", async () => {
    await openTokens(page);
    const text = (await row(page, id).locator(".last-used").textContent()).trim();
    return text === "never" ? null : text;
  });
  assert.match(lastUsed, /\d{4}-\d\d-\d\d \d\d:\d\d/);
  assert.match(lastUsed, /127\.0\.0\.1/);
  assert.equal((await row(page, id).locator("td.num").textContent()).trim(), "1");
});

test("d: rotating with no grace shows a new secret and stops the old one at once", async () => {
  const page = owner.page;
  const old = tokens.first;
  await openTokens(page);
  const r = row(page, old.id);
  await r.locator("select[name=graceSeconds]").selectOption("0");
  const rotated = await send(page, () => r.getByRole("button", { name: "Rotate" }).click(), 200, { ready: "#secret" });
  assert.equal(rotated.url(), `${tokensUrl}/${old.id}/rotate`);
  assert.equal(await page.textContent("h1"), "Token rotated: ledger-sync");
  const secret = await page.inputValue("#secret");
  assert.notEqual(secret, old.secret);
  const id = (await page.textContent('label[for="secret"]')).match(/\((tok-[A-Za-z0-9]+)\)/)?.[1];
  assert.ok(id && id !== old.id, `a successor: ${id}`);
  assert.match(await page.textContent("main"), /The token it replaces keeps working until/);
  tokens.second = { id, secret };

  const before = await accounts(old.secret);
  assert.equal(before.status, 401, JSON.stringify(before.json));
  assert.equal(before.json.success, false);
  assert.equal(before.json.error.reason, "token_revoked");
  const now = await accounts(secret);
  assert.equal(now.status, 200, JSON.stringify(now.json));

  await openTokens(page);
  assert.ok(!(await page.content()).includes(secret), "the list does not show the new secret");
  assert.equal(await statusOf(page, id), "ACTIVE");
  assert.notEqual(await statusOf(page, old.id), "ACTIVE");
});

test("e: revoking the successor with its button stops it", async () => {
  const page = owner.page;
  const { id, secret } = tokens.second;
  await openTokens(page);
  await send(page, () => row(page, id).getByRole("button", { name: "Revoke", exact: true }).click(), 303, {
    landing: `${tokensUrl}?notice=revoked`,
  });
  assert.equal(await page.getByRole("status").textContent(), "Revoked.");
  assert.equal(await statusOf(page, id), "REVOKED");
  assert.equal(await row(page, id).getByRole("button").count(), 0, "a revoked token has no buttons");
  const refused = await accounts(secret);
  assert.equal(refused.status, 401, JSON.stringify(refused.json));
  assert.equal(refused.json.error.reason, "token_revoked");

  // A few more tokens for the list's screenshot: one from the form, two from the CLI.
  await page.fill("#name", "payouts-worker");
  await page.check('input[name=permission][value="payouts:read"]');
  await page.check('input[name=permission][value="payouts:write"]');
  await page.selectOption("#expiresIn", "30d");
  await send(page, () => page.getByRole("button", { name: "Create token" }).click(), 200, { ready: "#secret" });
  assert.equal(await page.textContent("h1"), "Token created: payouts-worker");
  admin(["token", "create", "--monimeer", owner.id, "--space", space, "--name", "reporting", "--env", "test", "--permissions", "financial-transactions:read", "--expires-in", "1y"]);
  admin(["token", "create", "--monimeer", owner.id, "--name", "old-script", "--env", "test", "--all-permissions", "--no-expiry"]);
  await openTokens(page);
  assert.equal(await page.locator("tr[data-token]").count(), 5);
  assert.deepEqual(await unlabelled(page), []);
  await screenshots(page, "tokens");

  // Two more, revoked together with their checkboxes and "Revoke selected".
  const scratch = ["scratch-1", "scratch-2"].map(
    (name) => admin(["token", "create", "--monimeer", owner.id, "--space", space, "--name", name, "--env", "test", "--permissions", "catalog:read"]).id,
  );
  await openTokens(page);
  for (const id of scratch) await row(page, id).locator("input[name=token]").check();
  await send(page, () => page.getByRole("button", { name: "Revoke selected" }).click(), 303, {
    landing: `${tokensUrl}?notice=revoked`,
  });
  for (const id of scratch) assert.equal(await statusOf(page, id), "REVOKED");
  assert.equal(await page.locator('tr[data-token] td.status-ACTIVE').count(), 3, "the others are untouched");
});

test("f: a viewer cannot make tokens, and a form without the session's CSRF value is refused", async () => {
  // The viewer holds a token (made by the operator), so the list has a row to (not) act on.
  const held = admin(["token", "create", "--monimeer", viewer.id, "--space", space, "--name", "vera-read", "--env", "test", "--permissions", "financial-accounts:read"]);
  viewer.context = await newContext();
  viewer.page = await viewer.context.newPage();
  const page = viewer.page;
  await page.goto(signInLink(viewer.id));
  await send(page, () => page.getByRole("button", { name: "Continue as Vera Viewer" }).click(), 303, { landing: tokensUrl });
  assert.match(await page.textContent("header"), /Vera Viewer/);
  assert.equal(await row(page, held.id).count(), 1);
  assert.equal(await page.getByRole("button", { name: "Create token" }).count(), 0);
  assert.equal(await page.locator("#name").count(), 0);
  assert.equal(await page.getByRole("button", { name: "Rotate" }).count(), 0);
  assert.equal(await page.getByRole("button", { name: /Revoke/ }).count(), 0);
  assert.equal(await page.locator("input[name=token]").count(), 0);

  // The owner's create form, replayed with the viewer's own valid CSRF value.
  const csrf = await csrfOf(page);
  const posted = await replayForm(page, tokensUrl, [
    ["csrf", csrf],
    ["name", "sneaky"],
    ["permission", "financial-accounts:read"],
    ["expiresIn", "90d"],
    ["binding", "space"],
  ]);
  assert.equal(posted.status, 403);
  assert.match(posted.html, /permission_denied/);
  assert.ok(!posted.html.includes("Token created"));
  const rotated = await replayForm(page, `${tokensUrl}/${held.id}/rotate`, [["csrf", csrf], ["graceSeconds", "0"]]);
  assert.equal(rotated.status, 403);
  assert.match(rotated.html, /permission_denied/);
  await openTokens(page);
  assert.equal(await page.locator("tr[data-token]").count(), 1, "nothing was made");
  assert.equal(await statusOf(page, held.id), "ACTIVE");

  // The signed-in owner: a wrong CSRF value, none at all, and a right one from another site.
  const ownerPage = owner.page;
  await openTokens(ownerPage);
  const count = await ownerPage.locator("tr[data-token]").count();
  const fields = [["name", "forged"], ["permission", "financial-accounts:read"]];
  const ownerCsrf = await csrfOf(ownerPage);
  const wrong = await replayForm(ownerPage, tokensUrl, [["csrf", `${ownerCsrf.slice(1)}x`], ...fields]);
  assert.equal(wrong.status, 403);
  assert.match(wrong.html, /csrf_token_invalid/);
  const missing = await replayForm(ownerPage, tokensUrl, fields);
  assert.equal(missing.status, 403);
  assert.match(missing.html, /csrf_token_invalid/);
  const foreign = await ownerPage.request.post(tokensUrl, {
    headers: { Origin: "https://evil.example" },
    form: { csrf: ownerCsrf, name: "forged", permission: "financial-accounts:read" },
    maxRedirects: 0,
  });
  assert.equal(foreign.status(), 403);
  assert.match(await foreign.text(), /csrf_origin_mismatch/);
  const signOut = await replayForm(ownerPage, "/console/sign-out", [["csrf", "nope"]]);
  assert.equal(signOut.status, 403, "signing out needs the CSRF value too");
  assert.match(signOut.html, /csrf_token_invalid/);
  await openTokens(ownerPage);
  assert.equal(await ownerPage.locator("tr[data-token]").count(), count, "nothing was made");
  await viewer.context.close();
});

test("g: a password signs in, and a wrong one shows a notice", async () => {
  const context = await newContext();
  const page = await context.newPage();
  const signIn = `${base}/console/sign-in`;
  await page.goto(signIn);
  await page.fill("#email", writer.email);
  await page.fill("#password", "not the right password");
  const wrong = await send(page, () => page.getByRole("button", { name: "Sign in" }).click(), 401, { ready: ".notice" });
  assert.equal(wrong.url(), signIn);
  assert.match(await page.locator(".notice").textContent(), /do not match an account/);
  assert.equal(await page.inputValue("#email"), writer.email, "the address is kept");
  assert.equal(await page.inputValue("#password"), "", "the password is not");
  assert.equal((await context.cookies()).filter((c) => c.name === "om_console").length, 0);

  await page.fill("#password", password);
  await send(page, () => page.getByRole("button", { name: "Sign in" }).click(), 303, { landing: tokensUrl });
  assert.match(await page.textContent("header"), /Priya Password/);
  assert.equal(await page.getByRole("button", { name: "Create token" }).count(), 1, "a developer makes tokens");
  await context.close();
});

test("h: the keyboard alone signs in and makes a token", async () => {
  const link = signInLink(owner.id);
  const context = await newContext();
  const page = await context.newPage();
  await page.goto(link);
  const focused = () =>
    page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      return {
        tag: el.tagName.toLowerCase(),
        id: el.id,
        name: el.getAttribute("name"),
        value: el.value ?? null,
        text: el.textContent.trim(),
        href: el.getAttribute("href"),
        outline: getComputedStyle(el).outlineStyle,
        visible: el.matches(":focus-visible"),
        key: el.outerHTML.slice(0, 200) + [...el.parentNode.children].indexOf(el),
      };
    });
  async function tab(shift = false) {
    const before = await focused();
    await page.keyboard.press(shift ? "Shift+Tab" : "Tab");
    const now = await focused();
    assert.ok(now, "the focus is on a control");
    assert.notDeepEqual(now?.key, before?.key, "the focus moved");
    assert.ok(now.visible && now.outline !== "none", `the focus is visible on ${now.key}`);
    return now;
  }
  async function tabTo(what, found, limit = 400) {
    for (let i = 0; i < limit; i++) {
      const now = await tab();
      if (found(now)) return now;
    }
    assert.fail(`Tab never reached ${what}`);
  }

  const first = await tab();
  assert.equal(first.text, "Continue as Quick-start owner");
  await send(page, () => page.keyboard.press("Enter"), 303, { landing: tokensUrl });

  const skip = await tab();
  assert.equal(skip.text, "Skip to content", "the first Tab reaches the skip link");
  assert.equal(skip.href, "#main");
  assert.ok(await page.locator("a.skip").isVisible(), "the skip link shows when focused");
  await page.keyboard.press("Enter");
  await until("the focus on #main", () => page.evaluate(() => document.activeElement?.id === "main"));

  await tabTo("#name", (f) => f.id === "name");
  await page.keyboard.type("keyboard-only");
  // Shift+Tab leaves the field and Tab comes back to it.
  await tab(true);
  await tab();
  assert.equal((await focused()).id, "name");
  await tabTo("financial-accounts:read", (f) => f.name === "permission" && f.value === "financial-accounts:read");
  await page.keyboard.press("Space");
  assert.equal(await page.isChecked('input[name=permission][value="financial-accounts:read"]'), true);
  await tabTo("Create token", (f) => f.tag === "button" && f.text === "Create token");
  await send(page, () => page.keyboard.press("Enter"), 200, { ready: "#secret" });
  assert.equal(await page.textContent("h1"), "Token created: keyboard-only");
  const secret = await page.inputValue("#secret");
  assert.ok(secret.length >= 20);
  assert.equal((await accounts(secret)).status, 200);
  await context.close();
});

test("the members, audit log and live pages", async () => {
  const page = owner.page;
  await openTokens(page);
  await page.locator("nav.sections").getByRole("link", { name: "Members" }).click();
  await page.waitForURL(`${base}/console/${space}/test/members`);
  const members = await page.locator("main table").textContent();
  for (const id of [owner.id, viewer.id, writer.id]) assert.match(members, new RegExp(id));
  assert.match(members, /viewer/);
  assert.deepEqual(await unlabelled(page), []);
  await screenshots(page, "members");

  await page.locator("nav.sections").getByRole("link", { name: "Audit log" }).click();
  await page.waitForURL(`${base}/console/${space}/test/audit`);
  const log = await page.locator("main").textContent();
  for (const action of ["token.create", "token.rotate", "token.revoke"]) assert.match(log, new RegExp(action.replace(".", "\\.")));
  await page.fill("#action", "token.rotate");
  await Promise.all([page.waitForURL(/\/audit\?/), page.getByRole("button", { name: "Filter" }).click()]);
  const rows = await page.locator("main tbody tr").allTextContents();
  assert.ok(rows.length >= 1 && rows.every((r) => r.includes("token.rotate")), rows.join("\n"));
  await page.fill("#action", "");
  await Promise.all([page.waitForURL(/\/audit\?/), page.getByRole("button", { name: "Filter" }).click()]);
  await screenshots(page, "audit");

  await openTokens(page);
  await Promise.all([
    page.waitForURL(`${base}/console/${space}/live/tokens`),
    page.locator("header .env").getByRole("link", { name: "Live" }).click(),
  ]);
  const banner = page.locator(".live-banner");
  assert.ok(await banner.isVisible());
  assert.match(await banner.textContent(), /^Live environment/);
  assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector(".live-banner")).backgroundColor), "rgb(179, 71, 0)");
  assert.match(await page.textContent("h1"), /\(live\)$/);
  assert.equal(await page.locator("tr[data-token]").count(), 0, "the test tokens are not listed in live");
  await screenshots(page, "live-tokens");
});

test("i: signing out ends the session", async () => {
  const page = owner.page;
  await openTokens(page);
  await send(page, () => page.getByRole("button", { name: "Sign out", exact: true }).click(), 303, { landing: `${base}/console/sign-in` });
  assert.equal((await owner.context.cookies()).filter((c) => c.name === "om_console").length, 0, "the cookie is gone");
  for (const path of [`/console/${space}/test/tokens`, `/console/${space}/test/members`, "/console"]) {
    await page.goto(`${base}${path}`);
    assert.equal(page.url(), `${base}/console/sign-in`, path);
    assert.equal(await page.getByRole("button", { name: "Sign in" }).count(), 1);
  }
  await owner.context.close();
});
