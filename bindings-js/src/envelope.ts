import type * as wasm from "./wasm/tracewire_wasm.js";
import { type Context, ROOT_CONTEXT, context as api } from "@opentelemetry/api";
import { type ReceivedContext, outgoing, unpackSpanContext, withReceived } from "./context.js";
import { native } from "./native.js";
import type { TracewireError } from "./errors.js";

/** Where the JSON envelope goes and whether receiving strips it. */
export interface JsonEnvelopeOptions {
  /**
   * The envelope object's member path, dot-separated (default `tracewire`).
   * Both peers must use the same.
   */
  path?: string;
  /** MCP mode: `params._meta` / `result._meta` on every text frame (PROTOCOL.md 4.4). */
  mcp?: boolean;
  /** Remove the W3C members from received payloads (default true). */
  strip?: boolean;
}

/** What a received frame became. */
export interface DecodedMessage<T extends string | Uint8Array = string | Uint8Array> {
  /** `plain` (no envelope), `enveloped` or `malformed`. */
  kind: "plain" | "enveloped" | "malformed";
  /** The payload for the application: the frame, or the frame without its envelope. */
  payload: T;
  /** The sender's context (`enveloped` only), as the core read it. */
  received?: ReceivedContext;
  /** Why the envelope is malformed (`malformed` only). */
  error?: TracewireError;
  /** The OpenTelemetry `exception` event a receive span records for `error`. */
  exceptionEvent?: { name: string; attributes: Record<string, string> };
  /** `messaging.message.body.size`: the payload's bytes without the envelope. */
  bodySize: number;
}

type NativeDecoded = wasm.Decoded;

/** Reads a native `Decoded` (and frees it). */
function decoded<T extends string | Uint8Array>(d: NativeDecoded, frame: T): DecodedMessage<T> {
  try {
    const kind = d.kind as DecodedMessage["kind"];
    let payload: T = frame;
    if (d.changed) {
      if (typeof frame === "string") {
        payload = d.payloadText as T;
      } else {
        const own = d.payloadBytes;
        payload = (own ?? frame.subarray(d.payloadOffset)) as T;
      }
    }
    const out: DecodedMessage<T> = { kind, payload, bodySize: d.bodySize };
    if (kind === "enveloped") out.received = d.context as ReceivedContext;
    else if (kind === "malformed") {
      out.error = d.error as TracewireError;
      out.exceptionEvent = d.exceptionEvent;
    }
    return out;
  } finally {
    d.free();
  }
}

/**
 * Reads the core's packed decoding outcome (`Codec.decodeTextPacked`):
 * `undefined` when malformed.
 */
function unpack<T extends string | Uint8Array>(packed: string, frame: T): DecodedMessage<T> | undefined {
  const kind = packed.charCodeAt(0) - 48;
  if (kind === 2) return undefined;
  const changed = packed.charCodeAt(1) === 49;
  const i = packed.indexOf("\n", 2);
  const bodySize = Number(packed.slice(2, i));
  if (kind === 0) return { kind: "plain", payload: frame, bodySize };
  const j = packed.indexOf("\n", i + 1);
  const k = packed.indexOf("\n", j + 1);
  const l = packed.indexOf("\n", k + 1);
  const received: ReceivedContext = { remote: true };
  if (j > i + 1) Object.assign(received, unpackSpanContext(packed.slice(i + 1, j)));
  if (k > j + 1) received.tracestate = packed.slice(j + 1, k);
  if (l > k + 1) {
    received.baggage = packed.slice(k + 1, l);
    received.baggageEntries = native.extractBaggage(received.baggage) as string[];
  }
  const rest = packed.slice(l + 1);
  let payload = frame;
  if (changed) payload = (typeof frame === "string" ? rest : (frame as Uint8Array).subarray(Number(rest))) as T;
  return { kind: "enveloped", payload, received, bodySize };
}

/** Bytes of an `ArrayBuffer`, a view or a Node `Buffer`, without copying. */
export function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return data instanceof Uint8Array
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);
}

/**
 * The envelope rules of one connection (PROTOCOL.md 3.4): which envelopes
 * were negotiated, and the JSON placement. `encode` writes the context into
 * a frame to send; `decode` reads it from a received frame. Frames that
 * cannot carry an envelope pass untouched.
 *
 * ```ts
 * const codec = new MessageCodec({ json: true, binary: true });
 * const wire = codec.encode('{"text":"hi"}');          // in the active context
 * const { payload, received } = codec.decode(wire);     // payload === '{"text":"hi"}'
 * ```
 */
export class MessageCodec {
  readonly #codec: wasm.Codec;

  constructor(envelopes: { json: boolean; binary: boolean }, options: JsonEnvelopeOptions = {}) {
    this.#codec = new native.Codec(envelopes.json, envelopes.binary, options.path, options.mcp ?? false, options.strip);
  }

  /** The frame to send for `payload` in `ctx` (default: the active context). */
  encode<T extends string | Uint8Array>(payload: T, ctx: Context = api.active()): T {
    const out = outgoing(ctx);
    if (typeof payload === "string") {
      return (this.#codec.encodeText(payload, ...out) ?? payload) as T;
    }
    return (this.#codec.encodeBinary(payload as Uint8Array, ...out) ?? payload) as T;
  }

  /** Decodes a received text frame (a string) or binary frame (bytes). */
  decode<T extends string | Uint8Array>(frame: T): DecodedMessage<T> {
    const text = typeof frame === "string";
    const packed = text ? this.#codec.decodeTextPacked(frame) : this.#codec.decodeBinaryPacked(frame as Uint8Array);
    return (
      unpack(packed, frame) ??
      // Malformed (rare): the error and its event from the detailed form.
      decoded(text ? this.#codec.decodeText(frame) : this.#codec.decodeBinary(frame as Uint8Array), frame)
    );
  }

  /** Frees the WebAssembly memory now rather than at garbage collection. */
  dispose(): void {
    this.#codec.free();
  }
}

/**
 * The JSON envelope alone (PROTOCOL.md 4), for frames outside a traced
 * socket (a queue, a log, another transport).
 */
export class JsonEnvelope {
  readonly #env: wasm.JsonEnvelope;

  constructor(options: JsonEnvelopeOptions = {}) {
    this.#env = new native.JsonEnvelope(options.path, options.mcp ?? false, options.strip);
  }

  /** `frame` carrying `ctx`'s context; throws `NotJsonObjectError` when it cannot. */
  inject(frame: string, ctx: Context = api.active()): string {
    return this.#env.inject(frame, ...outgoing(ctx));
  }

  /** Reads `frame`'s envelope. */
  extract(frame: string): DecodedMessage<string> {
    return decoded(this.#env.extract(frame), frame);
  }

  /** Frees the WebAssembly memory now rather than at garbage collection. */
  dispose(): void {
    this.#env.free();
  }
}

/** `payload` behind a binary envelope holding `ctx`'s context (PROTOCOL.md 5). */
export function encodeBinary(payload: Uint8Array, ctx: Context = api.active()): Uint8Array {
  return native.encodeBinaryEnvelope(payload, ...outgoing(ctx));
}

/** Reads a binary frame's envelope. */
export function decodeBinary(frame: Uint8Array): DecodedMessage<Uint8Array> {
  return decoded(native.decodeBinaryEnvelope(frame), frame);
}

/** The OpenTelemetry context of a received message: `base` with the sender's span context and baggage. */
export function receivedContext(message: Pick<DecodedMessage, "received">, base: Context = ROOT_CONTEXT): Context {
  return message.received === undefined ? base : withReceived(message.received, base);
}
