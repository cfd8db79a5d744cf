package app;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A plain JDK WebSocket client, no tracing code: offers its subprotocol {@code chat}, sends one
 * JSON text and one binary message to a URL, prints what was agreed and each reply ({@code
 * SUBPROTOCOL <name>}, {@code REPLY <text>}, {@code BINARY <hex>}), then closes.
 */
final class PlainClient {
  private PlainClient() {}

  static void talk(URI uri) throws Exception {
    BlockingQueue<String> got = new LinkedBlockingQueue<>();
    WebSocket.Listener listener =
        new WebSocket.Listener() {
          private final StringBuilder text = new StringBuilder();

          @Override
          public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
              got.add("REPLY " + text);
              text.setLength(0);
            }
            ws.request(1);
            return null;
          }

          @Override
          public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            got.add("BINARY " + HexFormat.of().formatHex(b));
            ws.request(1);
            return null;
          }

          @Override
          public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
            got.add("CLOSED " + code);
            return null;
          }
        };
    WebSocket ws =
        HttpClient.newHttpClient()
            .newWebSocketBuilder()
            .subprotocols("chat")
            .buildAsync(uri, listener)
            .get(10, TimeUnit.SECONDS);
    System.out.println("SUBPROTOCOL " + ws.getSubprotocol());
    ws.sendText("{\"q\":\"from-app\"}", true).get(10, TimeUnit.SECONDS);
    System.out.println(got.poll(10, TimeUnit.SECONDS));
    ws.sendBinary(ByteBuffer.wrap(new byte[] {4, 5, 6}), true).get(10, TimeUnit.SECONDS);
    System.out.println(got.poll(10, TimeUnit.SECONDS));
    ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(10, TimeUnit.SECONDS);
    System.out.println(got.poll(10, TimeUnit.SECONDS));
  }
}
