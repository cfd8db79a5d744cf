// Headless Chromium (the system's, driven by playwright-core) loads a page
// that imports the package and talks to the Rust echo server on loopback.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import { existsSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startEcho } from "./echo.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const OTEL = "/node_modules/@opentelemetry";
const IMPORTS = {
  "@opentelemetry/api": `${OTEL}/api/build/esm/index.js`,
  "@opentelemetry/core": `${OTEL}/core/build/esm/index.js`,
  "@opentelemetry/resources": `${OTEL}/resources/build/esm/index.js`,
  "@opentelemetry/sdk-trace": `${OTEL}/sdk-trace/build/esm/index.js`,
  "@opentelemetry/sdk-trace-base": `${OTEL}/sdk-trace-base/build/esm/index-shim.js`,
  "@opentelemetry/semantic-conventions": `${OTEL}/semantic-conventions/dist/index.mjs`,
};
const PAGE = `<!doctype html><meta charset="utf-8"><title>tracewire</title>
<script type="importmap">${JSON.stringify({ imports: IMPORTS })}</script>
<script type="module" src="/test/browser/page.mjs"></script>`;

// What a bundler does with package.json "browser" fields: the browser
// builds of the SDK's platform modules.
const browserFiles = new Map();
for (const pkg of ["core", "resources", "sdk-trace", "sdk-trace-base"]) {
  const dir = `${OTEL}/${pkg}`;
  const { browser = {} } = JSON.parse(readFileSync(`${ROOT}${dir}/package.json`, "utf8"));
  for (const [from, to] of Object.entries(browser)) browserFiles.set(`${dir}/${from.slice(2)}`, `${dir}/${to.slice(2)}`);
}
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };

let http, echo, browser;

before(async () => {
  echo = await startEcho("message");
  http = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    if (path === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
      return;
    }
    // Resolve as a bundler does (extensionless imports, "browser" fields),
    // by redirecting, so the module's own relative imports resolve from there.
    const allowed = /^\/(dist|node_modules|test\/browser)\//.test(path) && !path.includes("..");
    const isFile = (f) => existsSync(`${ROOT}${f}`) && statSync(`${ROOT}${f}`).isFile();
    const found = allowed ? [path, `${path}.js`, `${path}/index.js`].find(isFile) : undefined;
    if (found === undefined) {
      res.writeHead(404).end();
      return;
    }
    const file = browserFiles.get(found) ?? found;
    if (file !== path) {
      res.writeHead(302, { location: file }).end();
      return;
    }
    const local = `${ROOT}${file}`;
    res.writeHead(200, { "content-type": TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream" });
    res.end(readFileSync(local));
  }).listen(0, "127.0.0.1");
  await once(http, "listening");
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: make -C bindings-js test installs it (apt-get install chromium)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  http?.close();
  echo?.proc.kill();
});

test("a page in headless Chromium: query handshake, envelopes both ways, one trace with the Rust server", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("requestfailed", (q) => errors.push(`${q.url()}: ${q.failure()?.errorText}`));
  await page.goto(`http://127.0.0.1:${http.address().port}/?echo=${echo.port}`);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 20000 }).catch((e) => assert.fail(`${e.message}: ${errors.join("; ")}`));
  const r = await page.evaluate(() => window.result);
  assert.equal(r.error, undefined, r.error);
  assert.deepEqual(errors, []);

  // The browser could only use the URL and the subprotocol offer.
  const url = new URL(r.url);
  assert.equal(url.searchParams.get("room"), "1");
  assert.match(url.searchParams.get("traceparent"), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.match(url.searchParams.get("tracewire-session"), /^[0-9a-f]{32}$/);
  assert.equal(r.protocol, "tracewire.v1.json-binary", "the Rust server selected tracewire's token");

  // The message went out in the click's trace, the server continued it, the reply came back in it.
  assert.equal(r.text, '{"text":"from the browser"}');
  assert.equal(r.textKind, "enveloped");
  assert.equal(r.textTraceId, r.clickTraceId);
  assert.equal(r.baggage, "home", "the baggage went there and back");
  assert.ok(echo.lines.some((l) => l.endsWith(`in trace ${r.clickTraceId}`)), "the Rust server saw the browser's trace");
  assert.match(JSON.parse(r.raw[0]).tracewire.traceparent, new RegExp(`^00-${r.clickTraceId}-`));

  // Binary: prefixed on the wire, the payload back as sent.
  assert.deepEqual(r.raw[1].slice(0, 4), [0xf5, 0x54, 0x57, 2]);
  assert.deepEqual(r.binary, [1, 2, 3]);
  assert.equal(r.binaryKind, "enveloped");

  const names = r.spans.map((s) => s.name);
  for (const n of ["connect /chat", "send /chat", "process /chat", "close /chat", "click"]) assert.ok(names.includes(n), `${n} in ${names}`);
  const processed = r.spans.filter((s) => s.name === "process /chat");
  assert.ok(processed.every((s) => s.traceId === r.clickTraceId && s.parentRemote));
  await page.close();
});
