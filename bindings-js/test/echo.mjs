// The Rust core's traced echo server (core/examples/echo_server.rs) on a
// free loopback port, for the loopback tests.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const targetDir = process.env.CARGO_TARGET_DIR ?? fileURLToPath(new URL("../../target", import.meta.url));
const ECHO = process.env.TRACEWIRE_ECHO_SERVER ?? `${targetDir}/debug/examples/echo_server`;

export async function freePort() {
  const srv = createServer().listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address();
  srv.close();
  await once(srv, "close");
  return port;
}

/** The echo server in `model`: `{proc, port, lines}` (`lines`: what it printed). */
export async function startEcho(model) {
  const port = await freePort();
  const proc = spawn(ECHO, [`127.0.0.1:${port}`], {
    env: { ...process.env, MODEL: model, OTEL_TRACES_EXPORTER: "none", OTEL_METRICS_EXPORTER: "none", OTEL_LOGS_EXPORTER: "none" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = [];
  let buf = "";
  const ready = new Promise((resolve, reject) => {
    proc.on("error", reject);
    proc.on("exit", (code) => reject(new Error(`echo server exited (${code})`)));
    proc.stdout.on("data", (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line.startsWith("echo server on")) resolve();
      }
    });
  });
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${ECHO} did not start in 20 s`)), 20000)));
  await Promise.race([ready, timeout]);
  clearTimeout(timer);
  return { proc, port, lines };
}
