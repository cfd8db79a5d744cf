// Loads the WebAssembly module once, in Node (read from disk) or a browser
// (fetched next to this file), and registers the error classes it throws.
import init, { initSync, setErrorFactory } from "./wasm/tracewire_wasm.js";
import { makeError } from "./errors.js";

const wasmUrl = new URL("./wasm/tracewire_wasm_bg.wasm", import.meta.url);
const node = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;

if (node !== undefined && wasmUrl.protocol === "file:") {
  // Node's fetch cannot read file: URLs.
  const { readFile } = await import("node:fs/promises");
  initSync({ module: await readFile(wasmUrl) });
} else {
  await init({ module_or_path: wasmUrl });
}
setErrorFactory(makeError);

export * as native from "./wasm/tracewire_wasm.js";
