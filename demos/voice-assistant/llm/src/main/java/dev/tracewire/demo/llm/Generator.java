package dev.tracewire.demo.llm;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tracewire.ContextCarrier;
import dev.tracewire.StreamMetrics;
import dev.tracewire.websocket.TracedSession;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The stand-in model: requests wait in an in-process queue; worker threads ({@code
 * llm-worker-N}) restore each request's captured context and stream the answer's words as
 * tokens in a {@code chat stand-in-llm} span with GenAI stream metrics.
 */
final class Generator {
  /** A queued chat request with the context it was received in. */
  record Request(TracedSession session, int turn, String prompt, byte[] context) {}

  private static final Map<String, String> ANSWERS =
      Map.of(
          "what is the weather in lisbon", "it is sunny in lisbon with a high of twenty four degrees",
          "and tomorrow", "tomorrow brings light rain in the afternoon",
          "thank you", "you are welcome");
  private static final String FALLBACK = "sorry i did not catch that";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final BlockingQueue<Request> queue = new LinkedBlockingQueue<>();
  private final List<Thread> workers = new ArrayList<>();
  private final Tracer tracer = GlobalOpenTelemetry.getTracer("llm");
  private final double pace;

  Generator(double pace, int threads) {
    this.pace = pace;
    for (int i = 1; i <= threads; i++) {
      Thread worker = new Thread(this::work, "llm-worker-" + i);
      worker.setDaemon(true);
      worker.start();
      workers.add(worker);
    }
  }

  void submit(Request request) {
    queue.add(request);
  }

  void shutdown() {
    workers.forEach(Thread::interrupt);
  }

  private void work() {
    try {
      while (true) {
        answer(queue.take());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void answer(Request request) throws InterruptedException {
    Context parent = ContextCarrier.restore(request.context());
    Span span =
        tracer
            .spanBuilder("chat stand-in-llm")
            .setParent(parent)
            .setAttribute("gen_ai.operation.name", "chat")
            // Required by the GenAI conventions; the demo's model is its own provider.
            .setAttribute("gen_ai.provider.name", "tracewire-demo")
            .setAttribute("gen_ai.request.model", "stand-in-llm")
            .setAttribute("thread.name", Thread.currentThread().getName())
            .setAttribute("demo.turn", request.turn())
            .setAttribute("demo.baggage", baggageKeys(parent))
            .startSpan();
    String[] words = ANSWERS.getOrDefault(request.prompt(), FALLBACK).split(" ");
    try (Scope ignored = span.makeCurrent();
        StreamMetrics metrics = new StreamMetrics(StreamMetrics.Kind.MODEL_OUTPUT)) {
      pause(120);
      for (int i = 0; i < words.length; i++) {
        if (i > 0) {
          pause(30);
        }
        String token =
            JSON.writeValueAsString(
                Map.of("type", "token", "turn", request.turn(), "index", i, "text", words[i] + " "));
        request.session().sendText(token);
        metrics.recordChunk(token.length());
      }
      request
          .session()
          .sendText(JSON.writeValueAsString(Map.of("type", "done", "turn", request.turn(), "tokens", words.length)));
      metrics.recordTo(span);
    } catch (IOException e) {
      System.err.println("llm: turn " + request.turn() + ": " + e);
      span.recordException(e);
      span.setStatus(StatusCode.ERROR, e.getMessage());
    } finally {
      span.end();
    }
  }

  private void pause(double millis) throws InterruptedException {
    Thread.sleep(Math.round(millis * pace));
  }

  /**
   * The baggage keys {@code cx} carries, sorted and comma-separated: what reached llm from the
   * gateway (the cross-language test checks that the device's baggage never does).
   */
  private static String baggageKeys(Context cx) {
    return String.join(",", new TreeSet<>(Baggage.fromContext(cx).asMap().keySet()));
  }
}
