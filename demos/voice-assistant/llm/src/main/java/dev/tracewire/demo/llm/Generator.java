package dev.tracewire.demo.llm;

import dev.tracewire.ContextCarrier;
import dev.tracewire.StreamMetrics;
import dev.tracewire.websocket.TracedSession;
import io.opentelemetry.api.trace.Span;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The tracewire service's worker pool: requests wait in an in-process queue; worker threads
 * ({@code llm-worker-N}) restore each request's captured context and answer it through {@link
 * StandInModel}, with GenAI stream metrics on the chat span.
 */
final class Generator {
  /** A queued chat request with the context it was received in. */
  record Request(TracedSession session, StandInModel.Chat chat, byte[] context) {}

  private final BlockingQueue<Request> queue = new LinkedBlockingQueue<>();
  private final List<Thread> workers = new ArrayList<>();
  private final StandInModel model;

  Generator(StandInModel model, int threads) {
    this.model = model;
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
    try (StreamMetrics metrics = new StreamMetrics(StreamMetrics.Kind.MODEL_OUTPUT)) {
      model.answer(
          ContextCarrier.restore(request.context()),
          request.chat(),
          (message, last) -> {
            request.session().sendText(message);
            if (last) {
              metrics.recordTo(Span.current()); // the chat span, still open
            } else {
              metrics.recordChunk(message.length());
            }
          });
    }
  }
}
