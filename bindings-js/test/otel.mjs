// One real OpenTelemetry SDK for the tests: in-memory exporter, the
// AsyncLocalStorage context manager, the tracewire propagator.
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { TracewirePropagator } from "../dist/index.js";

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new TracewirePropagator());

/** A tracer and its exporter; `root` samples roots (ParentBased). */
export function sdk(root = true) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    sampler: new ParentBasedSampler({ root: root ? new AlwaysOnSampler() : new AlwaysOffSampler() }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { tracer: provider.getTracer("tracewire-tests"), exporter, provider };
}

export const global = sdk();
trace.setGlobalTracerProvider(global.provider);
