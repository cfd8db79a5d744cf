import type * as wasm from "./wasm/tracewire_wasm.js";
import {
  type Context,
  type Span,
  type Tracer,
  ROOT_CONTEXT,
  SpanStatusCode,
  context as api,
  trace,
} from "@opentelemetry/api";
import { type ReceivedContext, outgoing } from "./context.js";
import { type DecodedMessage, type JsonEnvelopeOptions, MessageCodec, bytesOf } from "./envelope.js";
import { native } from "./native.js";
import { startSpan } from "./spans.js";
import { Trust } from "./trust.js";

/** The parts of a WebSocket (browser `WebSocket`, Node `ws`) a traced socket uses. */
export interface WebSocketLike {
  readonly protocol: string;
  readonly readyState: number;
  binaryType: string;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}

/** A WebSocket constructor: the browser's, or `ws`'s (which also takes options, e.g. headers). */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** How a traced client connects. */
export interface ConnectOptions {
  /** The tracer for the connection's spans (default `trace.getTracer("tracewire")`). */
  tracer?: Tracer;
  /** `connection` (one trace per connection, the default) or `message` (one trace per message). */
  model?: "connection" | "message";
  /** The envelopes to offer (default both). */
  envelopes?: { json?: boolean; binary?: boolean };
  /** The application's own subprotocols, in preference order. */
  protocols?: string[];
  /** The JSON envelope's placement (the server must use the same) and stripping. */
  json?: JsonEnvelopeOptions;
  /** How far the server is trusted (default {@link Trust.trusted}). */
  trust?: Trust;
  /** The WebSocket constructor (default `globalThis.WebSocket`; pass `ws`'s in Node 20). */
  WebSocket?: WebSocketConstructor;
  /**
   * Where the handshake's context goes: `query` parameters (what a browser
   * can do; only `traceparent` and the session id, PROTOCOL.md 12 item 6) or
   * request `headers` (Node's `ws`). Default: `headers` for `ws`, else `query`.
   */
  handshake?: "query" | "headers";
  /** The context the connection span starts in (default the active one). */
  context?: Context;
  /** The session id to send (default a new random one). */
  sessionId?: string;
}

/** How a traced server accepts connections (Node's `ws`). */
export interface AcceptOptions {
  /** The tracer for the connection's spans (default `trace.getTracer("tracewire")`). */
  tracer?: Tracer;
  /** `connection` (default) or `message`. */
  model?: "connection" | "message";
  /** The envelopes the server supports (default both). */
  envelopes?: { json?: boolean; binary?: boolean };
  /** The application subprotocols the server speaks. */
  protocols?: string[];
  /** The JSON envelope's placement and stripping (the same as the clients'). */
  json?: JsonEnvelopeOptions;
  /** How far clients are trusted; an endpoint facing clients it does not control must pass `Trust.untrusted()`. */
  trust?: Trust;
  /** `ws` or `wss`, for `server.port` when the `Host` has none (default `ws`). */
  scheme?: "ws" | "wss";
  /** The route template the request matched (`/chat/{room}`), for span names. */
  route?: string;
}

/** The parts of Node's `IncomingMessage` a traced server reads. */
export interface UpgradeRequest {
  url?: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders?: string[];
}

function requestHeaders(req: UpgradeRequest): string[] {
  if (req.rawHeaders !== undefined) return req.rawHeaders;
  const flat: string[] = [];
  for (const [k, v] of Object.entries(req.headers)) {
    for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) flat.push(k, one);
  }
  return flat;
}

interface Accepted {
  context: ReceivedContext;
  json: boolean;
  binary: boolean;
  appProtocol: string | null;
  subprotocol: string | null;
  sessionId: string;
}

function readRequest(req: UpgradeRequest, options: AcceptOptions): Accepted {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return native.acceptRequest(
    requestHeaders(req),
    q < 0 ? undefined : url.slice(q + 1),
    options.envelopes?.json ?? true,
    options.envelopes?.binary ?? true,
    options.protocols ?? [],
  ) as Accepted;
}

/**
 * The `handleProtocols` for a `ws` server: selects the subprotocol as the
 * core does (PROTOCOL.md 3.3), or none.
 *
 * ```ts
 * const wss = new WebSocketServer({ port: 9001, handleProtocols: selectProtocol() });
 * wss.on("connection", (ws, req) => {
 *   const socket = TracedWebSocket.accept(ws, req);
 *   socket.onMessage((msg) => socket.send(msg.data, msg.context)); // echo in the process span
 * });
 * ```
 */
export function selectProtocol(options: Pick<AcceptOptions, "envelopes" | "protocols"> = {}) {
  return (_offered: Set<string>, req: UpgradeRequest): string | false => readRequest(req, options).subprotocol ?? false;
}

/** One received message, as the application sees it. */
export interface TracedMessage {
  /** The payload: a string for text frames, bytes for binary frames, without the envelope. */
  data: string | Uint8Array;
  /** The context the handler runs in: the process span's (or the connection's when no span was started). */
  context: Context;
  /** `plain`, `enveloped` or `malformed` (see {@link DecodedMessage}). */
  kind: DecodedMessage["kind"];
}

/** Why a traced connection could not open. */
export class ConnectError extends Error {
  readonly code = "connect_failed";
  constructor(
    message: string,
    /** The close code the WebSocket reported, if it closed. */
    readonly closeCode?: number,
  ) {
    super(message);
    this.name = "ConnectError";
  }
}

/** A message sent on a traced socket that has closed. */
export class SocketClosedError extends Error {
  readonly code = "socket_closed";
  constructor() {
    super("the traced WebSocket is closed");
    this.name = "SocketClosedError";
  }
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

function isWsPackage(ctor: unknown): boolean {
  // `ws`'s sockets can terminate and ping; a browser's cannot (nor set headers).
  const proto = (ctor as { prototype?: { terminate?: unknown; ping?: unknown } }).prototype;
  return typeof proto?.terminate === "function" && typeof proto?.ping === "function";
}

/**
 * A traced WebSocket client: the handshake carries the connection span's
 * context and offers tracewire's subprotocols; every message sent gets a
 * send span and, when negotiated, an envelope; every message received a
 * process span, child of the sender's span. Messages from a peer that
 * negotiated nothing pass untouched.
 *
 * ```ts
 * const socket = await TracedWebSocket.connect("ws://127.0.0.1:9001/chat");
 * socket.onMessage((msg) => console.log(msg.data)); // process span is msg.context's
 * socket.send(JSON.stringify({ text: "hi" }));     // send span; context in the envelope
 * ```
 */
export class TracedWebSocket {
  /** The underlying WebSocket. */
  readonly socket: WebSocketLike;
  /** The session id sent to the server. */
  readonly sessionId: string;
  /** The envelopes both sides use. */
  readonly envelopes: { json: boolean; binary: boolean };
  /** The application subprotocol the server selected, or `""`. */
  readonly protocol: string;
  /** The connection span's context. */
  readonly context: Context;
  /** Resolves with the close code and reason once the connection is closed. */
  readonly closed: Promise<{ code: number; reason: string }>;

  readonly #tracer: Tracer;
  readonly #connection: wasm.Connection;
  readonly #codec: MessageCodec;
  readonly #trust: wasm.Trust;
  readonly #budget: wasm.ReceiveSpanBudget;
  readonly #handlers = new Set<(msg: TracedMessage) => unknown>();
  #isClosed = false;

  private constructor(
    socket: WebSocketLike,
    sessionId: string,
    negotiated: { json: boolean; binary: boolean; appProtocol: string | null },
    connectionCtx: Context,
    tracer: Tracer,
    connection: wasm.Connection,
    trust: Trust,
    json: JsonEnvelopeOptions | undefined,
  ) {
    this.socket = socket;
    this.sessionId = sessionId;
    this.envelopes = { json: negotiated.json, binary: negotiated.binary };
    this.protocol = negotiated.appProtocol ?? "";
    this.context = connectionCtx;
    this.#tracer = tracer;
    this.#connection = connection;
    this.#codec = new MessageCodec(this.envelopes, json);
    this.#trust = trust.native;
    this.#budget = this.#trust.receiveSpanBudget();
    socket.addEventListener("message", (ev: { data: unknown }) => this.#receive(ev.data));
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (ev: { code: number; reason: string }) => {
        this.#recordClose(ev.code, ev.reason);
        resolve({ code: ev.code, reason: ev.reason });
      });
    });
  }

  /** Opens a traced connection to `url`; rejects with {@link ConnectError} when it fails. */
  static async connect(url: string, options: ConnectOptions = {}): Promise<TracedWebSocket> {
    const tracer = options.tracer ?? trace.getTracer("tracewire");
    const trust = options.trust ?? Trust.trusted();
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Ctor === undefined) {
      throw new ConnectError("no WebSocket constructor: pass options.WebSocket (e.g. the ws package's)");
    }
    const envelopes = { json: options.envelopes?.json ?? true, binary: options.envelopes?.binary ?? true };
    const client = new native.ClientHandshake(envelopes.json, envelopes.binary, options.protocols ?? [], options.sessionId);
    const connection = native.Connection.forUrl(options.model ?? "connection", "client", client.sessionId, url);
    connection.setTrust(trust.native);
    const open = connection.open();
    const connectionCtx = startSpan(tracer, open, { ambient: options.context ?? api.active() });
    open.free();
    const span = trace.getSpan(connectionCtx)!;

    const out = outgoing(connectionCtx);
    const offer = client.subprotocols();
    let socket: WebSocketLike;
    if ((options.handshake ?? (isWsPackage(Ctor) ? "headers" : "query")) === "headers") {
      const flat = client.headers(...out);
      const headers: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) headers[flat[i]] = flat[i + 1];
      socket = new Ctor(url, offer, { headers });
    } else {
      const flat = client.query(out[0], out[1], out[2]);
      const u = new URL(url);
      for (let i = 0; i + 1 < flat.length; i += 2) u.searchParams.append(flat[i], flat[i + 1]);
      socket = new Ctor(u.toString(), offer);
    }
    socket.binaryType = "arraybuffer";

    try {
      await new Promise<void>((resolve, reject) => {
        socket.addEventListener("open", () => resolve());
        socket.addEventListener("error", () => reject(new ConnectError(`WebSocket connection to ${url} failed`)));
        socket.addEventListener("close", (ev: { code: number }) =>
          reject(new ConnectError(`WebSocket connection to ${url} closed before opening (${ev.code})`, ev.code)),
        );
      });
    } catch (e) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
      span.end();
      client.free();
      connection.free();
      throw e;
    }
    const negotiated = client.negotiated(socket.protocol) as { json: boolean; binary: boolean; appProtocol: string | null };
    const sessionId = client.sessionId;
    client.free();
    if (connection.endsAtUpgrade) span.end();
    return new TracedWebSocket(socket, sessionId, negotiated, connectionCtx, tracer, connection, trust, options.json);
  }

  /**
   * Traces a connection a `ws` server accepted (`wss.on("connection", (ws,
   * req) => ...)`): the handshake's context (headers, else query) is the
   * accept span's parent as the trust policy allows, and envelopes are used
   * only when the selected subprotocol (see {@link selectProtocol}) is a
   * tracewire token.
   */
  static accept(socket: WebSocketLike, request: UpgradeRequest, options: AcceptOptions = {}): TracedWebSocket {
    const tracer = options.tracer ?? trace.getTracer("tracewire");
    const trust = options.trust ?? Trust.trusted();
    const hs = readRequest(request, options);
    const host = request.headers.host;
    const connection = native.Connection.forRequest(
      options.model ?? "connection",
      hs.sessionId,
      options.scheme ?? "ws",
      Array.isArray(host) ? host[0] : host,
      request.url ?? "/",
    );
    connection.setTrust(trust.native);
    if (options.route !== undefined) connection.setRoute(options.route);
    const c = hs.context;
    const remote = trust.native.admit(c.traceparent, c.tracestate, c.baggage) as ReceivedContext;
    const open = connection.open();
    const connectionCtx = startSpan(tracer, open, { ambient: ROOT_CONTEXT, remote });
    open.free();
    // Envelopes only toward a client whose tracewire token was selected.
    const selected = socket.protocol !== "" && socket.protocol === hs.subprotocol;
    const negotiated = selected
      ? { json: hs.json, binary: hs.binary, appProtocol: hs.appProtocol }
      : { json: false, binary: false, appProtocol: socket.protocol === "" ? null : socket.protocol };
    socket.binaryType = "arraybuffer";
    if (connection.endsAtUpgrade) trace.getSpan(connectionCtx)!.end();
    return new TracedWebSocket(socket, connection.sessionId, negotiated, connectionCtx, tracer, connection, trust, options.json);
  }

  /**
   * Registers a handler for received messages; it runs in the message's
   * context (its process span ends when the handler returns or its promise
   * settles). Returns a function that removes it.
   */
  onMessage(handler: (msg: TracedMessage) => unknown): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /**
   * Sends a text (string) or binary message in a send span, with the
   * negotiated envelope; throws {@link SocketClosedError} once closed.
   */
  send(data: string | ArrayBuffer | ArrayBufferView, ctx: Context = api.active()): void {
    if (this.#isClosed) throw new SocketClosedError();
    const text = typeof data === "string";
    const payload = text ? data : bytesOf(data);
    const size = text ? utf8Length(data) : (payload as Uint8Array).byteLength;
    const decision = this.#connection.send(text ? "text" : "binary", size);
    const sendCtx = startSpan(this.#tracer, decision, { ambient: ctx, connection: this.context });
    decision.free();
    const span = trace.getSpan(sendCtx)!;
    try {
      this.socket.send(this.#codec.encode(payload, sendCtx));
    } catch (e) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw e;
    } finally {
      span.end();
    }
  }

  /** Closes the connection (the close is recorded when the close handshake ends). */
  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }

  #receive(data: unknown): void {
    const frame: string | Uint8Array = typeof data === "string" ? data : bytesOf(data as ArrayBuffer);
    const decoded = this.#codec.decode(frame);
    let ctx = this.context;
    let span: Span | undefined;
    if (this.#budget.admit()) {
      const r = decoded.received;
      const remote =
        r === undefined ? undefined : (this.#trust.admit(r.traceparent, r.tracestate, r.baggage) as ReceivedContext);
      const decision = this.#connection.receive(typeof frame === "string" ? "text" : "binary", decoded.bodySize);
      ctx = startSpan(this.#tracer, decision, { ambient: api.active(), remote, connection: this.context });
      decision.free();
      span = trace.getSpan(ctx)!;
      if (decoded.exceptionEvent !== undefined) span.addEvent(decoded.exceptionEvent.name, decoded.exceptionEvent.attributes);
    }
    const msg: TracedMessage = { data: decoded.payload, context: ctx, kind: decoded.kind };
    const pending: Promise<unknown>[] = [];
    for (const handler of this.#handlers) {
      try {
        const r = api.with(ctx, handler, undefined, msg);
        if (r instanceof Promise) pending.push(r);
      } catch (e) {
        span?.recordException(e as Error);
      }
    }
    if (span === undefined) return;
    if (pending.length === 0) span.end();
    else
      void Promise.allSettled(pending).then((results) => {
        for (const r of results) if (r.status === "rejected") span!.recordException(r.reason as Error);
        span!.end();
      });
  }

  #recordClose(code: number, reason: string): void {
    this.#isClosed = true;
    const close = this.#connection.close(code, reason ?? "", this.#budget.skipped) as {
      attributes: Record<string, string | number>;
      isError: boolean;
      span: wasm.SpanDecision | null;
    };
    let span: Span;
    if (close.span !== null) {
      const ctx = startSpan(this.#tracer, close.span, { ambient: ROOT_CONTEXT, connection: this.context });
      close.span.free();
      span = trace.getSpan(ctx)!;
    } else {
      span = trace.getSpan(this.context)!;
      span.setAttributes(close.attributes);
    }
    if (close.isError) span.setStatus({ code: SpanStatusCode.ERROR, message: `close code ${code}` });
    span.end();
    this.#codec.dispose();
    this.#connection.free();
    this.#budget.free();
  }
}
