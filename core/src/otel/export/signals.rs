//! The signals this module exports, and what became of their exports:
//! counted, and the first failure of each reported in one line; for spans
//! also how many never reached an export (dropped from a full queue).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

#[cfg(doc)]
use super::{Telemetry, init};

/// A signal this module exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Spans, sent to the traces endpoint.
    Traces,
    /// Metrics, sent to the metrics endpoint.
    Metrics,
}

impl Signal {
    /// `traces` or `metrics`, as the OTLP specification names them.
    pub const fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    /// The variable that turns this signal's export off.
    pub const fn exporter_variable(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_TRACES_EXPORTER",
            Signal::Metrics => "OTEL_METRICS_EXPORTER",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the export requests of one signal went since [`init`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExportCounts {
    /// Requests the endpoint accepted.
    pub exported: u64,
    /// Requests that failed: refused, rejected (an HTTP error status), or
    /// timed out. Their telemetry is dropped.
    pub failed: u64,
    /// Spans that ended but never reached an export request: the batch
    /// queue was full (`OTEL_BSP_MAX_QUEUE_SIZE`) or the pipeline was shut
    /// down. Final after [`Telemetry::shutdown`]; before, it also counts
    /// spans still queued. Always 0 for metrics.
    pub spans_not_exported: u64,
}

/// The export outcomes of one signal, shared by its exporter and
/// [`Telemetry`].
#[derive(Debug)]
pub(super) struct SignalHealth {
    signal: Signal,
    endpoint: String,
    exported: AtomicU64,
    failed: AtomicU64,
    reported: AtomicBool,
    /// Spans handed to the batch processor, and spans in export requests.
    spans_ended: AtomicU64,
    spans_in_exports: AtomicU64,
}

impl SignalHealth {
    pub(super) fn new(signal: Signal, endpoint: &str) -> Self {
        SignalHealth {
            signal,
            endpoint: endpoint.to_owned(),
            exported: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            reported: AtomicBool::new(false),
            spans_ended: AtomicU64::new(0),
            spans_in_exports: AtomicU64::new(0),
        }
    }

    /// Counts one export's outcome and reports the signal's first failure.
    /// Always succeeds: a failed export must not fail the SDK's flush or
    /// shutdown, and through them the application.
    fn record(&self, outcome: OTelSdkResult) -> OTelSdkResult {
        match outcome {
            Ok(()) => {
                self.exported.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if !self.reported.swap(true, Ordering::Relaxed) {
                    eprintln!("{}", self.failure_line(&error));
                }
            }
        }
        Ok(())
    }

    /// The line that sums up a signal's failed exports at shutdown, if any
    /// failed: after the first failure only counting went on, and the
    /// count is what says how much was lost.
    pub(super) fn summary_line(&self) -> Option<String> {
        let ExportCounts {
            exported,
            failed,
            spans_not_exported,
        } = self.counts();
        let failures = (failed > 0).then(|| {
            format!(
                "{failed} of {total} {signal} exports to {endpoint} failed; their {signal} were dropped",
                total = exported + failed,
                signal = self.signal,
                endpoint = self.endpoint,
            )
        });
        let not_exported = (spans_not_exported > 0).then(|| {
            format!(
                "{spans_not_exported} of {ended} spans never reached an export \
                 (the batch queue was full: raise OTEL_BSP_MAX_QUEUE_SIZE)",
                ended = self.spans_ended.load(Ordering::Relaxed),
            )
        });
        match (failures, not_exported) {
            (None, None) => None,
            (Some(line), None) | (None, Some(line)) => Some(format!("tracewire: {line}.")),
            (Some(first), Some(second)) => Some(format!("tracewire: {first}; {second}.")),
        }
    }

    /// The one line that reports a signal's first failed export.
    fn failure_line(&self, error: &OTelSdkError) -> String {
        let signal = self.signal;
        format!(
            "tracewire: {signal} were not accepted by {endpoint} ({error}); \
             {signal} from this process are dropped and later failures only counted. \
             If this backend takes no {signal}, set {variable}=none.",
            endpoint = self.endpoint,
            variable = signal.exporter_variable(),
        )
    }

    pub(super) fn counts(&self) -> ExportCounts {
        let ended = self.spans_ended.load(Ordering::Relaxed);
        ExportCounts {
            exported: self.exported.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            spans_not_exported: ended.saturating_sub(self.spans_in_exports.load(Ordering::Relaxed)),
        }
    }
}

/// A span processor that counts the spans it passes on to `inner` (the
/// batch processor), so that spans the batch processor drops from a full
/// queue, which it only reports through the SDK's internal logs, show in
/// [`ExportCounts::spans_not_exported`].
#[derive(Debug)]
pub(super) struct CountingEnds<P> {
    pub(super) inner: P,
    pub(super) health: Arc<SignalHealth>,
}

impl<P: SpanProcessor> SpanProcessor for CountingEnds<P> {
    fn on_start(&self, span: &mut Span, cx: &opentelemetry::Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.health.spans_ended.fetch_add(1, Ordering::Relaxed);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// An exporter that counts and reports its inner exporter's outcomes.
#[derive(Debug)]
pub(super) struct Reporting<E> {
    pub(super) inner: E,
    pub(super) health: Arc<SignalHealth>,
}

impl<E: opentelemetry_sdk::trace::SpanExporter> opentelemetry_sdk::trace::SpanExporter
    for Reporting<E>
{
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.health
            .spans_in_exports
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.health.record(self.inner.export(batch).await)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Reporting<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.health.record(self.inner.export(metrics).await)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_failed_exports_only_when_some_failed() {
        let health = SignalHealth::new(Signal::Traces, "http://127.0.0.1:9/v1/traces");
        let _ = health.record(Ok(()));
        assert_eq!(health.summary_line(), None);
        for _ in 0..2 {
            let _ = health.record(Err(OTelSdkError::InternalFailure("refused".into())));
        }
        assert_eq!(
            health.summary_line().as_deref(),
            Some(
                "tracewire: 2 of 3 traces exports to http://127.0.0.1:9/v1/traces failed; their traces were dropped."
            )
        );
    }
}
