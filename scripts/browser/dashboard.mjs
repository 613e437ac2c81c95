// The dashboard in a real browser, end to end: starts the real binary on a fresh data
// directory, drives Debian's chromium (playwright-core over CDP, no browser download) through
// sign-in, create, rotate, Revoke Old Key and sign-out, and checks every key against the API
// over real TLS. Screenshots (secrets masked) go to target/browser-artifacts/.
//
// Environment: SYNAPTIQ_BIN (default target/debug/synaptiq), CHROMIUM (default
// /usr/bin/chromium), ARTIFACTS (default target/browser-artifacts).

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
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

/** Starts `synaptiq serve` and resolves once it prints its address and first-run login. */
function startServer(dataDir) {
  const child = spawn(bin, ["--data-dir", dataDir, "serve", "--listen", "127.0.0.1:0"], {
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

async function shot(page, name, secrets = []) {
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, mask: secrets, maskColor: "#4f46e5" });
  step(`screenshot ${path.relative(root, file)}`);
}

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), "synaptiq-browser-"));
  const profile = mkdtempSync(path.join(tmpdir(), "synaptiq-chromium-"));
  const server = await startServer(dataDir);
  step(`server at ${server.base}`);
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
    page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
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

    step("sign out; the old cookie opens nothing");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You have signed out.").waitFor();
    await shot(page, "10-signed-out");
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
    server.child.kill("SIGTERM");
    rmSync(profile, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`browser test FAILED: ${e.stack ?? e}`);
  process.exit(1);
});
