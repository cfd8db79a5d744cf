package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * What a WebSocket URL says about a connection's spans, as the core reads it (docs/PROTOCOL.md
 * section 7): {@code server.address} (the host, lowercase, IPv6 without brackets, no user
 * information), {@code server.port} (explicit, else the scheme's default when known) and {@code
 * url.path} (the raw, percent-encoded path without query, {@code /} when empty), which is also the
 * target in span names.
 *
 * @param address the server address, or null when unknown
 * @param port the server port, or -1 when unknown
 * @param path the URL path as it travels on the wire
 */
public record Target(String address, int port, String path) {
  /** Requires a path. */
  public Target {
    Objects.requireNonNull(path, "path");
  }

  /**
   * Reads a client's {@code ws://} or {@code wss://} URL.
   *
   * @throws TracewireException {@code invalid_url} when it is not one
   */
  public static Target fromUrl(String url) {
    Objects.requireNonNull(url, "url");
    try (Scratch s = Scratch.get()) {
      byte[] b = url.getBytes(StandardCharsets.UTF_8);
      s.bytesRaw(b, 0, b.length);
      s.call(Native::targetFromUrl);
      return read(s);
    }
  }

  /**
   * A server's view of an upgrade request; never fails (what cannot be read is left out).
   *
   * @param scheme {@code ws} or {@code wss} when the server knows whether it terminates TLS, else
   *     null
   * @param host the {@code Host} header, or null
   * @param requestTarget the request target of the request line (a path with its query, or an
   *     absolute URL)
   */
  public static Target fromRequest(String scheme, String host, String requestTarget) {
    try (Scratch s = Scratch.get()) {
      s.str(scheme == null ? "" : scheme);
      s.u8(host != null ? 1 : 0);
      s.str(host);
      s.str(requestTarget == null ? "" : requestTarget);
      s.call(Native::targetFromRequest);
      return read(s);
    }
  }

  private static Target read(Scratch s) {
    String address = s.readStr();
    int port = s.readU32();
    String path = s.readStr();
    return new Target(address.isEmpty() ? null : address, port, path);
  }
}
