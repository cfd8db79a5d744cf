import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.tracewire.TracewirePropagator;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;

/**
 * The W3C Trace Context test service (github.com/w3c/trace-context, test/) for the Java binding:
 * TracewirePropagator with opentelemetry-java's SDK making the span. For each POST, the
 * harness's headers are extracted, the SDK starts a server span under them, and each {"url",
 * "arguments"} of the JSON body is posted onward from a client span of its own, its context
 * injected.
 *
 * <p>Usage: java -cp JAR:DEPS W3CService.java PORT (listens on 127.0.0.1:PORT/test)
 */
public final class W3CService {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TracewirePropagator PROPAGATOR = TracewirePropagator.getInstance();
  private static final Tracer TRACER =
      SdkTracerProvider.builder().build().get("tracewire-w3c");
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** Every line of a header (the harness sends some headers twice). */
  private static final TextMapGetter<HttpExchange> HEADERS =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(HttpExchange carrier) {
          return carrier.getRequestHeaders().keySet();
        }

        @Override
        public String get(HttpExchange carrier, String key) {
          return carrier.getRequestHeaders().getFirst(key);
        }

        @Override
        public Iterator<String> getAll(HttpExchange carrier, String key) {
          List<String> lines = carrier.getRequestHeaders().get(key);
          return lines == null ? null : lines.iterator();
        }
      };

  public static void main(String[] args) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 16);
    server.createContext("/", W3CService::handle);
    server.start();
  }

  private static void handle(HttpExchange exchange) throws IOException {
    int status = 200;
    try (exchange) {
      JsonNode calls = JSON.readTree(exchange.getRequestBody());
      Context parent = PROPAGATOR.extract(Context.root(), exchange, HEADERS);
      Span span = TRACER.spanBuilder("w3c").setParent(parent).setSpanKind(SpanKind.SERVER).startSpan();
      try (Scope ignored = parent.with(span).makeCurrent()) {
        for (JsonNode call : calls == null ? JSON.createArrayNode() : calls) {
          HttpRequest.Builder request =
              HttpRequest.newBuilder(URI.create(call.get("url").asText()))
                  .timeout(Duration.ofSeconds(5))
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(call.get("arguments"))));
          Span client = TRACER.spanBuilder("call").setSpanKind(SpanKind.CLIENT).startSpan();
          try {
            PROPAGATOR.inject(Context.current().with(client), request, HttpRequest.Builder::header);
            CLIENT.send(request.build(), HttpResponse.BodyHandlers.discarding());
          } finally {
            client.end();
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        status = 500;
      } finally {
        span.end();
      }
      exchange.sendResponseHeaders(status, -1);
    }
  }
}
