// The dashboard in a real browser, end to end: starts the real binary on a fresh data
// directory, drives Debian's chromium (playwright-core over CDP, no browser download) through
// sign-in, create, rotate, Revoke Old Key and sign-out, and checks every key against the API
// over real TLS. The webhooks journey sends real deliveries to a receiver in this process and
// verifies their signatures with the secret the page showed once. Screenshots (secrets
// masked) go to target/browser-artifacts/.
//
// Environment: SYNAPTIQ_BIN (default target/debug/synaptiq), CHROMIUM (default
// /usr/bin/chromium), ARTIFACTS (default target/browser-artifacts).

import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const bin = process.env.SYNAPTIQ_BIN ?? path.join(root, "target/debug/synaptiq");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const artifacts = process.env.ARTIFACTS ?? path.join(root, "target/browser-artifacts");
mkdirSync(artifacts, { recursive: true });

const step = (msg) => console.log(`• ${msg}`);

/** Starts `synaptiq serve` and resolves once it prints its address and first-run login.
 * Webhooks may reach plain http on loopback: the test's receiver is http://127.0.0.1. */
function startServer(dataDir) {
  const args = ["--data-dir", dataDir, "serve", "--listen", "127.0.0.1:0",
    "--webhook-allow-http", "--webhook-allow-private"];
  const child = spawn(bin, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SYNAPTIQ_LOG: "warn" },
  });
  let out = "";
  child.stderr.on("data", (d) => process.stderr.write(`[server] ${d}`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000);
    child.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
    const onData = (d) => {
      out += d;
      const url = out.match(/Synaptiq listening on (https:\/\/127\.0\.0\.1:\d+)/);
      const login = out.match(/Dashboard owner login: (\S+) \/ (\S+)/);
      const cert = out.match(/TLS certificate: (\S+)/);
      if (url && login && cert) {
        clearTimeout(timer);
        child.stdout.off("data", onData);
        child.stdout.resume();
        resolve({ child, base: url[1], email: login[1], password: login[2], ca: readFileSync(cert[1]) });
      }
    };
    child.stdout.on("data", onData);
  });
}

/** GET /api/v1/me with `key` over TLS, trusting the server's self-signed certificate. */
function apiStatus(server, key) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${server.base}/api/v1/me`, {
      ca: server.ca,
      headers: { authorization: `Bearer ${key}` },
    }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A webhook receiver on 127.0.0.1:0 that records every request and answers 200. */
function startReceiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      got.push({ method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"received":true}');
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    resolve({ server, got, url: `http://127.0.0.1:${server.address().port}/hook` });
  }));
}

/** Resolves with `probe()`'s first truthy value, polling every 100 ms. */
async function until(probe, what, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Standard Webhooks: `v1,` + base64 HMAC-SHA256 under the secret's bytes of `id.ts.body`. */
function signature(secret, id, timestamp, body) {
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const mac = createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest("base64");
  return `v1,${mac}`;
}

/** The `v1,` entries of a request's `webhook-signature`. */
const signatures = (req) => req.headers["webhook-signature"].split(" ").filter((s) => s.startsWith("v1,"));

async function shot(page, name, secrets = []) {
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, mask: secrets, maskColor: "#4f46e5" });
  step(`screenshot ${path.relative(root, file)}`);
}

/** Webhooks: add an endpoint pointing at the receiver, read its secret once, send a test,
 * verify the signature in Node, watch the delivery arrive in the log, redeliver it, then
 * rotate the secret and check both secrets sign during the grace period. */
async function webhooksJourney(page, server, receiver) {
  step("webhooks: the page, then a refused form (no events chosen)");
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
  await page.getByText("No endpoints in this environment yet.").waitFor();
  await page.getByLabel("Endpoint URL").fill(receiver.url);
  await page.getByLabel(/^Description/).fill("Browser test receiver");
  await page.getByRole("button", { name: "Add endpoint" }).click();
  await page.getByText("Choose the event types to receive, or All events.").first().waitFor();
  assert.equal(await page.getByLabel("Endpoint URL").inputValue(), receiver.url, "what was typed is kept");
  await shot(page, "10-webhook-form-problem");

  step("add it with All events; the secret is shown once");
  await page.getByRole("checkbox", { name: /^All events/ }).check();
  await page.getByRole("button", { name: "Add endpoint" }).click();
  const secretBox = page.locator("#new-secret");
  await secretBox.waitFor();
  const secret = await secretBox.inputValue();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  await page.getByText("you won't see this secret again").waitFor();
  await shot(page, "11-webhook-added", [secretBox]);
  const endpoint = page.locator("article.endpoint").filter({ hasText: receiver.url });
  await endpoint.getByText("All events").waitFor();

  step("Send test: the receiver gets a signed webhook.test");
  await endpoint.getByRole("button", { name: /^Send test/ }).click();
  await page.waitForURL(/\/deliveries\?env=live&sent=evt_/);
  const evt = new URL(page.url()).searchParams.get("sent");
  const first = await until(() => receiver.got.find((r) => r.headers["webhook-id"] === evt), "the test delivery");
  assert.equal(first.method, "POST");
  assert.match(first.headers["webhook-id"], /^evt_[0-9A-Z]{26}$/);
  assert.equal(JSON.parse(first.body).type, "webhook.test");
  const expected = signature(secret, evt, first.headers["webhook-timestamp"], first.body);
  assert.deepEqual(signatures(first), [expected], "signed with the secret shown once");

  step("the deliveries view shows it delivered with 200");
  const row = page.locator(`tr[id="d-${evt}"]`);
  await until(async () => {
    await page.reload();
    return (await row.locator(".badge-delivered").count()) === 1;
  }, "the delivery to show as delivered");
  assert.equal(await row.locator(".http-status").innerText(), "200");
  await page.locator("tr.body-row summary").first().click();
  await page.locator("pre.response-body").first().getByText('{"received":true}').waitFor();
  await shot(page, "12-webhook-deliveries");

  step("Redeliver: the receiver gets the same webhook-id again");
  await row.getByRole("button", { name: /^Redeliver/ }).click();
  await page.getByText(`${evt} will be sent again now`).waitFor();
  const again = await until(() => {
    const same = receiver.got.filter((r) => r.headers["webhook-id"] === evt);
    return same.length >= 2 && same[1];
  }, "the redelivery");
  assert.equal(again.body.toString(), first.body.toString(), "every attempt sends the same body");
  assert.deepEqual(signatures(again), [signature(secret, evt, again.headers["webhook-timestamp"], again.body)]);
  await until(async () => {
    await page.reload();
    return (await row.locator(".badge-delivered").count()) === 1;
  }, "the redelivery to show as delivered");
  await shot(page, "13-webhook-redelivered");

  step("a narrow screen: the deliveries table scrolls inside its card");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "14-webhook-deliveries-narrow");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
  await page.setViewportSize({ width: 1280, height: 900 });

  step("rotate the secret with a 1-hour grace period: both secrets sign");
  await page.getByRole("link", { name: /^Rotate secret/ }).click();
  await page.getByRole("radio", { name: "1 hour" }).check();
  await shot(page, "15-webhook-rotate-confirm");
  await page.getByRole("button", { name: "Rotate secret" }).click();
  await page.locator("#old-secret time[data-countdown]").waitFor();
  const rotated = await page.locator("#new-secret").inputValue();
  assert.notEqual(rotated, secret);
  await shot(page, "16-webhook-rotated", [page.locator("#new-secret")]);
  const before = receiver.got.length;
  await page.locator("article.endpoint").filter({ hasText: receiver.url })
    .getByRole("button", { name: /^Send test/ }).click();
  const test2 = await until(() => receiver.got.slice(before)
    .find((r) => r.headers["webhook-id"]?.startsWith("evt_") && JSON.parse(r.body).type === "webhook.test"),
  "the test after rotation");
  const id2 = test2.headers["webhook-id"];
  const ts2 = test2.headers["webhook-timestamp"];
  assert.deepEqual(signatures(test2), [signature(rotated, id2, ts2, test2.body), signature(secret, id2, ts2, test2.body)],
    "the new secret signs first, the old one too during its grace period");

  step("disable, then delete it behind the confirmation page");
  await page.goto(`${server.base}/dashboard/webhooks?env=live`);
  const card = page.locator("article.endpoint").filter({ hasText: receiver.url });
  await card.getByRole("button", { name: /^Disable/ }).click();
  await page.getByText(/^Disabled http:\/\/127\.0\.0\.1/).waitFor();
  await card.locator(".badge-disabled").waitFor();
  await shot(page, "17-webhook-disabled");
  await card.getByRole("link", { name: /^Delete/ }).click();
  await page.getByRole("heading", { name: "Delete this endpoint?" }).waitFor();
  await shot(page, "18-webhook-delete-confirm");
  await page.getByRole("button", { name: "Delete endpoint" }).click();
  await page.getByText("Endpoint deleted, with its delivery log.").waitFor();
}

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), "synaptiq-browser-"));
  const profile = mkdtempSync(path.join(tmpdir(), "synaptiq-chromium-"));
  const server = await startServer(dataDir);
  step(`server at ${server.base}`);
  const receiver = await startReceiver();
  step(`webhook receiver at ${receiver.url}`);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--ignore-certificate-errors",
    ],
  });
  const problems = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    // The one expected: the refused webhook form answers 400, which chromium logs.
    const refusedForm = (m) => m.text().includes("status of 400") && m.location().url.endsWith("/dashboard/webhooks");
    page.on("console", (m) => {
      if (m.type() === "error" && !refusedForm(m)) problems.push(`console: ${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

    step("the dashboard sends an anonymous visitor to sign in");
    await page.goto(`${server.base}/dashboard`);
    await page.waitForURL(/\/dashboard\/login/);
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "password",
      "the email field has focus on load, Tab moves to the password");
    await shot(page, "01-sign-in");

    step(`sign in as ${server.email}`);
    await page.getByLabel("Email").fill(server.email);
    await page.getByLabel("Password").fill(server.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/dashboard\/keys/);
    const cookies = await context.cookies(server.base);
    const session = cookies.find((c) => c.name === "__Host-synaptiq_session");
    assert.ok(session, "session cookie set");
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, "Strict");
    await shot(page, "02-keys");

    step("create a live write key and read its secret from the page");
    await page.getByLabel("Name").fill("Browser test key");
    await page.getByRole("radio", { name: /^write\b/ }).check();
    await page.getByRole("radio", { name: /^live\b/ }).check();
    await page.getByRole("button", { name: "Create key" }).click();
    const secretBox = page.locator("#new-secret");
    await secretBox.waitFor();
    const first = await secretBox.inputValue();
    assert.match(first, /^sk_live_[0-9A-Za-z]{36}$/);
    await page.getByText("you won't see this key again").waitFor();
    await page.getByRole("button", { name: "Copy" }).waitFor(); // shown by the script
    await shot(page, "03-key-created", [secretBox]);
    assert.equal(await apiStatus(server, first), 200, "new key works");

    step("rotate it with a 1-hour grace period");
    await page.goto(`${server.base}/dashboard/keys?env=live`);
    await page.getByRole("link", { name: /^Rotate Browser test key/ }).click();
    await page.getByRole("radio", { name: "1 hour" }).check();
    await shot(page, "04-rotate-confirm");
    await page.getByRole("button", { name: "Rotate key" }).click();
    await page.locator("#rotation-panel").waitFor();
    const second = await page.locator("#new-secret").inputValue();
    assert.match(second, /^sk_live_[0-9A-Za-z]{36}$/);
    assert.notEqual(second, first);
    assert.match(await page.locator("#old-key time[data-countdown]").innerText(), /^in (59 min|1 h)/);
    await shot(page, "05-rotated", [page.locator("#new-secret")]);
    assert.deepEqual([await apiStatus(server, first), await apiStatus(server, second)], [200, 200],
      "both keys work during the grace period");

    step("click Revoke Old Key");
    await page.locator("#rotation-panel").getByRole("button", { name: "Revoke Old Key" }).click();
    await page.getByText(/^Revoked “Browser test key”/).waitFor();
    await shot(page, "06-old-key-revoked");
    assert.equal(await apiStatus(server, first), 401, "old key refused");
    assert.equal(await apiStatus(server, second), 200, "new key still works");

    step("usage, audit log and organization pages");
    await page.getByRole("link", { name: "Usage" }).click();
    await page.locator("svg.chart").first().waitFor();
    await shot(page, "07-usage");
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByRole("cell", { name: "key.revoked" }).first().waitFor();
    await shot(page, "08-audit");
    await page.getByRole("link", { name: "Organization" }).click();
    await page.getByRole("heading", { name: "Requests per minute, per key" }).waitFor();
    await shot(page, "09-organization");

    await webhooksJourney(page, server, receiver);


    step("sign out; the old cookie opens nothing");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You have signed out.").waitFor();
    await shot(page, "19-signed-out");
    await context.addCookies([{
      name: session.name, value: session.value, url: server.base,
      httpOnly: true, secure: true, sameSite: "Strict",
    }]);
    await page.goto(`${server.base}/dashboard/keys`);
    await page.waitForURL(/\/dashboard\/login/);

    assert.deepEqual(problems, [], "no console errors or CSP violations");
    console.log(`browser test passed; screenshots in ${path.relative(root, artifacts)}/`);
  } finally {
    await context.close();
    receiver.server.close();
    server.child.kill("SIGTERM");
    rmSync(profile, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`browser test FAILED: ${e.stack ?? e}`);
  process.exit(1);
});
