package dev.tracewire.demo.llm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.io.IOException;
import java.util.Map;
import java.util.TreeSet;

/**
 * The stand-in model without its transport, shared by the tracewire service ({@link Llm}) and the
 * plain one ({@link LlmPlain}): reads a chat request, streams the answer's words as token
 * messages at the contract's pace (demos/README.md) in a {@code chat stand-in-llm} span with the
 * GenAI attributes, made with the OpenTelemetry API only.
 */
final class StandInModel {
  /** A chat request from the gateway. */
  record Chat(int turn, String prompt) {}

  /** Where a chat's messages go; called while the chat span is current. */
  @FunctionalInterface
  interface Replies {
    /** Sends {@code message}: a token, or with {@code last} the closing {@code done}. */
    void send(String message, boolean last) throws IOException;
  }

  private static final Map<String, String> ANSWERS =
      Map.of(
          "what is the weather in lisbon", "it is sunny in lisbon with a high of twenty four degrees",
          "and tomorrow", "tomorrow brings light rain in the afternoon",
          "thank you", "you are welcome");
  private static final String FALLBACK = "sorry i did not catch that";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Tracer tracer = GlobalOpenTelemetry.getTracer("llm");
  private final double pace;

  /** {@code pace} multiplies every delay (DEMO_PACE); create after the SDK is global. */
  StandInModel(double pace) {
    this.pace = pace;
  }

  /** The chat request in a text message, or null (logged) for anything else. */
  static Chat parse(String message) {
    JsonNode body;
    try {
      body = JSON.readTree(message);
    } catch (IOException e) {
      System.err.println("llm: ignored a message that is not JSON: " + e.getMessage());
      return null;
    }
    if (!"chat".equals(body.path("type").asText())) {
      System.err.println("llm: ignored a message of type " + body.path("type"));
      return null;
    }
    return new Chat(body.path("turn").asInt(), body.path("prompt").asText());
  }

  /**
   * Answers {@code chat} on the calling thread in a {@code chat stand-in-llm} span, child of
   * {@code parent}. A failed send ends the span in error (and is logged); an interrupt ends it
   * and is thrown.
   */
  void answer(Context parent, Chat chat, Replies replies) throws InterruptedException {
    Span span =
        tracer
            .spanBuilder("chat stand-in-llm")
            .setParent(parent)
            .setAttribute("gen_ai.operation.name", "chat")
            // Required by the GenAI conventions; the demo's model is its own provider.
            .setAttribute("gen_ai.provider.name", "tracewire-demo")
            .setAttribute("gen_ai.request.model", "stand-in-llm")
            .setAttribute("thread.name", Thread.currentThread().getName())
            .setAttribute("demo.turn", chat.turn())
            .setAttribute("demo.baggage", baggageKeys(parent))
            .startSpan();
    String[] words = ANSWERS.getOrDefault(chat.prompt(), FALLBACK).split(" ");
    try (Scope ignored = span.makeCurrent()) {
      pause(120);
      for (int i = 0; i < words.length; i++) {
        if (i > 0) {
          pause(30);
        }
        replies.send(
            JSON.writeValueAsString(Map.of("type", "token", "turn", chat.turn(), "index", i, "text", words[i] + " ")),
            false);
      }
      replies.send(JSON.writeValueAsString(Map.of("type", "done", "turn", chat.turn(), "tokens", words.length)), true);
    } catch (IOException e) {
      System.err.println("llm: turn " + chat.turn() + ": " + e);
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
