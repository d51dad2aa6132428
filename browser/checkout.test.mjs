// The hosted checkout page and the handset simulator in a real browser: Debian's headless
// Chromium, driven by playwright-core, against a real `openmonime serve` on a fresh SQLite
// database, with a merchant site and a webhook receiver on loopback. Screenshots of each page at
// phone and desktop width go to docs/screenshots/. Run by browser/run.sh (which installs what it
// needs); `node --test` reports the results.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root, bin, startServer, launchChromium } from "./harness.mjs";

const shots = join(root, "docs", "screenshots");
const sizes = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };

let server, base, token, space, browser, merchant, merchantUrl;
const hooks = [];
const work = mkdtempSync(join(tmpdir(), "openmonime-browser-"));
const database = `sqlite:${join(work, "db")}`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token}`, "Monime-Space-Id": space };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    headers["Idempotency-Key"] = `browser-${Math.random().toString(36).slice(2)}`;
  }
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  assert.equal(res.status, 200, `${method} ${path}: ${JSON.stringify(json)}`);
  return json.result;
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  merchant = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/hooks") {
        hooks.push(JSON.parse(body));
        res.writeHead(200).end("{}");
        return;
      }
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html lang="en"><title>Merchant</title><h1>Merchant page ${req.url.split("?")[0]}</h1></html>`);
    });
  });
  await new Promise((r) => merchant.listen(0, "127.0.0.1", r));
  merchantUrl = `http://127.0.0.1:${merchant.address().port}`;

  let fields;
  ({ server, base, quickStart: fields } = await startServer(database));
  const mint = fields.create_token.split(" ").slice(1);
  const minted = JSON.parse(execFileSync(bin, [...mint, "--database", database, "--json"]).toString());
  token = minted.token;
  space = fields.space;
  await api("POST", "/v1/webhooks", {
    name: "merchant",
    url: `${merchantUrl}/hooks`,
    apiRelease: "caph",
    events: ["checkout_session.completed", "checkout_session.cancelled", "payment.completed"],
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  merchant?.close();
});

async function screenshots(page, name) {
  for (const [size, viewport] of Object.entries(sizes)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(shots, `${name}-${size}.png`), fullPage: true });
  }
}

function session(extra = {}) {
  return api("POST", "/v1/checkout-sessions", {
    name: "Freetown Music Festival",
    description: "Two day passes and a programme",
    successUrl: `${merchantUrl}/paid`,
    cancelUrl: `${merchantUrl}/cart`,
    callbackState: "cart-7",
    lineItems: [
      { name: "Day pass", price: { currency: "SLE", value: 25000 }, quantity: 2 },
      { name: "Programme", price: { currency: "SLE", value: 1050 } },
    ],
    brandingOptions: { primaryColor: "#7a1fa2" },
    ...extra,
  });
}

async function waitForHook(name, id) {
  for (let i = 0; i < 100; i++) {
    const found = hooks.find((h) => h.event.name === name && h.object.id === id);
    if (found) return found;
    await sleep(100);
  }
  assert.fail(`no ${name} webhook for ${id}; got ${hooks.map((h) => h.event.name)}`);
}

test("a customer is declined, retries with another number and provider, and lands on successUrl", async () => {
  const created = await session();
  const context = await browser.newContext({ viewport: sizes.phone });
  const page = await context.newPage();
  const blocked = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith(merchantUrl)) blocked.push(r.url());
  });
  const response = await page.goto(created.redirectUrl);
  assert.equal(response.status(), 200);
  assert.equal(await page.getAttribute("html", "lang"), "en");
  assert.equal(await page.textContent("h1"), "Freetown Music Festival");
  assert.match(await page.textContent(".total"), /SLE 510\.50/);
  await screenshots(page, "checkout");

  await page.getByLabel("Orange Money").check();
  await page.getByLabel("Mobile money number").fill("+23277000093");
  await page.getByRole("button", { name: /^Pay/ }).click();
  const alert = page.getByRole("alert");
  assert.match(await alert.textContent(), /declined the payment \(fund_insufficient\)/);
  await screenshots(page, "checkout-declined");
  assert.equal((await api("GET", `/v1/checkout-sessions/${created.id}`)).status, "pending");

  await page.getByLabel("Afrimoney").check();
  await page.getByLabel("Mobile money number").fill("076 000001".replace(" ", ""));
  await Promise.all([page.waitForURL(`${merchantUrl}/paid?callbackState=cart-7`), page.getByRole("button", { name: /^Pay/ }).click()]);
  assert.match(await page.textContent("h1"), /Merchant page \/paid/);

  const done = await api("GET", `/v1/checkout-sessions/${created.id}`);
  assert.equal(done.status, "completed");
  const receipt = await api("GET", `/v1/receipts/${done.orderNumber}`);
  assert.equal(receipt.status, "not_redeemed");
  assert.deepEqual(receipt.orderAmount, { currency: "SLE", value: 51050 });
  const hook = await waitForHook("checkout_session.completed", created.id);
  assert.equal(hook.data.status, "completed");
  assert.deepEqual(blocked, [], "no third-party request");
  await context.close();
});

test("a customer cancels and returns to cancelUrl; the link then stops working", async () => {
  const created = await session();
  const context = await browser.newContext({ viewport: sizes.phone });
  const page = await context.newPage();
  await page.goto(created.redirectUrl);
  await Promise.all([page.waitForURL(`${merchantUrl}/cart?callbackState=cart-7`), page.getByRole("button", { name: "Cancel" }).click()]);
  assert.equal((await api("GET", `/v1/checkout-sessions/${created.id}`)).status, "cancelled");
  await waitForHook("checkout_session.cancelled", created.id);
  const again = await page.goto(created.redirectUrl);
  assert.equal(again.status(), 410);
  assert.equal(await page.getByLabel("Mobile money number").count(), 0);
  await screenshots(page, "checkout-cancelled");
  await context.close();
});

test("the keyboard reaches every control in order, and every field has a label", async () => {
  const created = await session();
  const context = await browser.newContext({ viewport: sizes.desktop });
  const page = await context.newPage();
  await page.goto(created.redirectUrl);
  const order = [];
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press("Tab");
    order.push(await page.evaluate(() => document.activeElement?.getAttribute("name") ?? document.activeElement?.textContent?.trim()));
  }
  assert.deepEqual(order, ["providerId", "phoneNumber", "Pay SLE 510.50", "Cancel"]);
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input:not([type=hidden]), select")].filter((el) => !el.labels || el.labels.length === 0).length,
  );
  assert.equal(unlabelled, 0);
  await context.close();
});

test("the handset simulator dials a payment code and pays it", async () => {
  const code = await api("POST", "/v1/payment-codes", { name: "Handset demo", amount: { currency: "SLE", value: 700 } });
  const context = await browser.newContext({ viewport: sizes.phone });
  const page = await context.newPage();
  await page.goto(`${base}/sandbox/handset`);
  await screenshots(page, "handset");
  await page.getByLabel("Test token").fill(token);
  await page.getByLabel("Space id").fill(space);
  await page.getByLabel("Dial").fill(code.ussdCode);
  await page.getByLabel("Phone number").fill("+23276000001");
  await page.getByLabel("Provider").selectOption("m17");
  await page.getByRole("button", { name: "Call" }).click();
  assert.match(await page.getByRole("status").textContent(), /Payment complete/);
  await screenshots(page, "handset-paid");
  assert.equal((await api("GET", `/v1/payment-codes/${code.id}`)).status, "completed");
  assert.ok(!(await page.content()).includes(token), "the token is not echoed");
  await context.close();
});
