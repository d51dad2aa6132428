// monime-package (an SDK written against Monime's own API, never against openmonime) creates,
// reads, lists and deletes a payment code on openmonime, unchanged. The SDK's URLs are fixed to
// Monime's host, so its requests are re-pointed at the server under test through the SDK's own
// axios instance; nothing else is touched. Run by conformance/run.sh with OPENMONIME_URL,
// OPENMONIME_TOKEN and OPENMONIME_SPACE set. Exits non-zero on the first failed check.
"use strict";

const assert = require("node:assert/strict");
const path = require("node:path");
const axios = require("axios");
const { createClient } = require("monime-package");

const base = process.env.OPENMONIME_URL;
const token = process.env.OPENMONIME_TOKEN;
const space = process.env.OPENMONIME_SPACE;
assert.ok(base && token && space, "OPENMONIME_URL, OPENMONIME_TOKEN and OPENMONIME_SPACE are required");

// The SDK must share this axios instance, or the re-pointing below would not reach it.
const sdkAxios = require.resolve("axios", { paths: [path.dirname(require.resolve("monime-package"))] });
assert.equal(sdkAxios, require.resolve("axios"), "monime-package uses another axios than this script");

const MONIME = "https://api.monime.io";
axios.interceptors.request.use((config) => {
  assert.ok(config.url.startsWith(MONIME), `the SDK called ${config.url}`);
  config.url = base + config.url.slice(MONIME.length);
  return config;
});

async function main() {
  const client = createClient({ monimeSpaceId: space, accessToken: token });
  let passed = 0;
  const check = (what, fn) => {
    fn();
    passed += 1;
    console.log(`ok ${passed} - ${what}`);
  };

  const created = await client.paymentCode.create("Home EDSA Meter Top-up", 50, "", "Musa Kamara", "+23276000001");
  check("create answers success", () => assert.equal(created.success, true, JSON.stringify(created.error)));
  const code = created.data.result;
  check("the code is Monime's shape", () => {
    assert.match(code.id, /^pmc-/);
    assert.equal(code.status, "pending");
    assert.equal(code.mode, "recurrent");
    assert.deepEqual(code.amount, { currency: "SLE", value: 5000 });
    assert.match(code.ussdCode, /^\*715\*1\*\d{8}#$/);
    assert.equal(code.authorizedPhoneNumber, "+23276000001");
    assert.deepEqual(code.recurrentPaymentTarget.expectedPaymentTotal, { currency: "SLE", value: 5000 });
    assert.ok(!Number.isNaN(Date.parse(code.expireTime)));
  });

  const got = await client.paymentCode.get(code.id);
  check("get finds it", () => {
    assert.equal(got.success, true);
    assert.equal(got.data.result.id, code.id);
    assert.equal(got.data.result.ussdCode, code.ussdCode);
  });

  const all = await client.paymentCode.getAll();
  check("getAll lists it", () => {
    assert.equal(all.success, true);
    assert.ok(all.data.result.some((c) => c.id === code.id));
    assert.equal(typeof all.data.pagination.count, "number");
  });

  const deleted = await client.paymentCode.delete(code.id);
  check("delete succeeds", () => assert.equal(deleted.success, true, String(deleted.error)));

  const gone = await client.paymentCode.get(code.id);
  check("a deleted code is gone, in Monime's error envelope", () => {
    assert.equal(gone.success, false);
    assert.equal(gone.error.response.status, 404);
    assert.equal(gone.error.response.data.success, false);
    assert.equal(gone.error.response.data.error.reason, "not_found");
  });
  console.log(`monime-package: ${passed} checks passed`);
}

main().catch((error) => {
  console.error("monime-package conformance failed:", error);
  process.exit(1);
});
