/**
 * Errors thrown by tracewire: each a {@link TracewireError} subclass with the
 * stable code of PROTOCOL.md section 8, the same in every language.
 * @module
 */

/** The stable error code names (PROTOCOL.md section 8). */
export type ErrorCodeName =
  | "invalid_traceparent"
  | "invalid_tracestate"
  | "invalid_baggage"
  | "invalid_envelope"
  | "unsupported_envelope_version"
  | "not_json_object"
  | "invalid_carrier"
  | "invalid_argument"
  | "invalid_url"
  | "panic";

/** Every tracewire error: `code` is the stable name, `codeNumber` its number. */
export class TracewireError extends Error {
  /** The stable code name, e.g. `"invalid_traceparent"`. */
  readonly code: ErrorCodeName;
  /** The stable numeric code, e.g. `1`. */
  readonly codeNumber: number;

  constructor(code: ErrorCodeName, codeNumber: number, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.codeNumber = codeNumber;
  }
}

/** A `traceparent` is malformed (code 1). */
export class InvalidTraceparentError extends TracewireError {}
/** A `tracestate` or one of its members is malformed (code 2). */
export class InvalidTracestateError extends TracewireError {}
/** A `baggage` or one of its members is malformed (code 3). */
export class InvalidBaggageError extends TracewireError {}
/** A frame's envelope, or a carrier, is malformed (code 4). */
export class InvalidEnvelopeError extends TracewireError {}
/** A binary envelope of a version this library does not read (code 5). */
export class UnsupportedEnvelopeVersionError extends TracewireError {}
/** A text frame cannot take a JSON envelope (code 6). */
export class NotJsonObjectError extends TracewireError {}
/** Reserved for carrier formats (code 7). */
export class InvalidCarrierError extends TracewireError {}
/** A bad configuration value: model, path, subprotocol, policy (code 8). */
export class InvalidArgumentError extends TracewireError {}
/** A WebSocket URL or request target that cannot be read (code 9). */
export class InvalidUrlError extends TracewireError {}
/**
 * Code 100, for parity with the other bindings. The module is built with
 * `panic = "abort"`, so a panic (the core has none on any input) would
 * surface as a `WebAssembly.RuntimeError` instead.
 */
export class PanicError extends TracewireError {}

const classes: Record<ErrorCodeName, typeof TracewireError> = {
  invalid_traceparent: InvalidTraceparentError,
  invalid_tracestate: InvalidTracestateError,
  invalid_baggage: InvalidBaggageError,
  invalid_envelope: InvalidEnvelopeError,
  unsupported_envelope_version: UnsupportedEnvelopeVersionError,
  not_json_object: NotJsonObjectError,
  invalid_carrier: InvalidCarrierError,
  invalid_argument: InvalidArgumentError,
  invalid_url: InvalidUrlError,
  panic: PanicError,
};

/** The error for a core error; the WebAssembly module calls this to throw. */
export function makeError(code: number, name: string, message: string): TracewireError {
  const known = name as ErrorCodeName;
  const Class = classes[known] ?? TracewireError;
  return new Class(known, code, message);
}
