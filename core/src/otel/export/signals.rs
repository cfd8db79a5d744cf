//! The signals this module exports, and what became of their exports:
//! counted, and the first failure of each reported in one line.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::SpanData;

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
}

impl SignalHealth {
    pub(super) fn new(signal: Signal, endpoint: &str) -> Self {
        SignalHealth {
            signal,
            endpoint: endpoint.to_owned(),
            exported: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            reported: AtomicBool::new(false),
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
        let ExportCounts { exported, failed } = self.counts();
        (failed > 0).then(|| {
            format!(
                "tracewire: {failed} of {total} {signal} exports to {endpoint} failed; their {signal} were dropped.",
                total = exported + failed,
                signal = self.signal,
                endpoint = self.endpoint,
            )
        })
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
        ExportCounts {
            exported: self.exported.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
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
