#!/usr/bin/env node
// device (browser): the voice assistant's user end as a page in headless
// Chromium. Serves the page (index.html, page.mjs), the tracewire package
// (bindings-js/dist) and the OpenTelemetry modules (node_modules) on a free
// loopback port, opens it in Debian's chromium through playwright-core and
// prints what python/device.py prints: one `TURN {...}` line per turn on
// stdout, exit 0; a failure is one line on stderr and exit 1.
//
//   node device.mjs --url ws://127.0.0.1:PORT/voice [--turns 3]
//
// The page reads the contract's environment through the query string:
// OTEL_EXPORTER_OTLP_ENDPOINT (the page exports OTLP/HTTP JSON there, across
// origins: the receiver allows CORS), OTEL_SERVICE_NAME, TRACEWIRE_MODEL,
// DEMO_PACE, OTEL_SDK_DISABLED. CHROMIUM picks another browser binary.
import { createServer } from "node:http";
import { once } from "node:events";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = join(HERE, "..", "..", "..", "bindings-js", "dist");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };

function fail(message) {
  console.error(`device: ${message}`);
  process.exit(1);
}

/**
 * What a bundler does with the packages' "browser" fields: their platform
 * modules (node:fs, ...) replaced by the browser builds. URL path -> URL path.
 */
function browserBuilds() {
  const map = new Map();
  const root = join(HERE, "node_modules");
  const packages = readdirSync(root).flatMap((name) =>
    name.startsWith("@") ? readdirSync(join(root, name)).map((sub) => `${name}/${sub}`) : [name]);
  for (const name of packages) {
    const file = join(root, name, "package.json");
    if (!existsSync(file)) continue;
    const { browser } = JSON.parse(readFileSync(file, "utf8"));
    if (typeof browser !== "object" || browser === null) continue;
    for (const [from, to] of Object.entries(browser)) {
      if (typeof to === "string") map.set(`/node_modules/${name}/${from.slice(2)}`, `/node_modules/${name}/${to.slice(2)}`);
    }
  }
  return map;
}

/** The static server of the page and its modules, on a free loopback port. */
async function serve() {
  const browser = browserBuilds();
  const isFile = (f) => existsSync(f) && statSync(f).isFile();
  const local = (path) => {
    if (path === "/") return join(HERE, "index.html");
    if (path === "/page.mjs") return join(HERE, "page.mjs");
    if (path.startsWith("/tracewire/")) return join(DIST, path.slice("/tracewire/".length));
    if (path.startsWith("/node_modules/")) return join(HERE, path);
    return undefined;
  };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    // The modules import extensionless paths ("./trace"), as a bundler resolves them.
    const found = path.includes("..") ? undefined : [path, `${path}.js`, `${path}/index.js`].find((p) => {
      const file = local(p);
      return file !== undefined && isFile(file);
    });
    if (path === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    if (found === undefined) {
      res.writeHead(404).end();
      return;
    }
    const target = browser.get(found) ?? found;
    if (target !== path) {
      // Redirected, so the module's relative imports resolve from where it is.
      res.writeHead(302, { location: target }).end();
      return;
    }
    const file = local(path);
    res.writeHead(200, { "content-type": TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

const { values: args } = parseArgs({ options: { url: { type: "string" }, turns: { type: "string", default: "3" } } });
if (args.url === undefined) fail("--url ws://HOST:PORT/voice is required");
if (!/^[1-9][0-9]*$/.test(args.turns)) fail(`--turns: expected a whole number >= 1, got ${JSON.stringify(args.turns)}`);
if (!existsSync(join(DIST, "index.js"))) fail(`${DIST} is not built: make -C bindings-js build`);
if (!existsSync(join(HERE, "node_modules"))) fail(`${HERE}/node_modules is missing: make -C demos build-browser`);
if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: sudo apt-get install chromium (.ci/run installs it), or set CHROMIUM`);

const query = new URLSearchParams({
  url: args.url,
  turns: args.turns,
  model: process.env.TRACEWIRE_MODEL || "connection",
  pace: process.env.DEMO_PACE || "1",
  service: process.env.OTEL_SERVICE_NAME || "device",
});
if (process.env.OTEL_SDK_DISABLED !== "true") {
  query.set("endpoint", (process.env.OTEL_EXPORTER_OTLP_ENDPOINT || "http://localhost:4318").replace(/\/$/, ""));
}

// Imported once the modules are known to be there, so their absence is the line above.
const { chromium } = await import("playwright-core");
const server = await serve();
let browser;
let outcome;
try {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const page = await browser.newPage();
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  await page.exposeFunction("deviceReport", (kind, value) => {
    if (kind === "turn") console.log(`TURN ${JSON.stringify(value)}`);
    else finish({ kind, value });
  });
  page.on("pageerror", (e) => finish({ kind: "failed", value: `page error: ${e}` }));
  page.on("crash", () => finish({ kind: "failed", value: "the page crashed" }));
  // The page's warnings and errors (a failed export, a refused module) are the device's log.
  page.on("console", (m) => ["error", "warning"].includes(m.type()) && console.error(`device: page ${m.type()}: ${m.text()}`));
  page.on("requestfailed", (r) => console.error(`device: ${r.url()}: ${r.failure()?.errorText}`));
  await page.goto(`http://127.0.0.1:${server.address().port}/?${query}`);
  outcome = await finished;
} catch (e) {
  outcome = { kind: "failed", value: `the browser failed: ${e.message.split("\n")[0]}` };
} finally {
  await browser?.close();
  server.close();
}
if (outcome.kind !== "done") fail(outcome.value);
