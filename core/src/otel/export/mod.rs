//! OTLP/HTTP export of spans and metrics, set up from the standard
//! `OTEL_*` environment variables.
//!
//! [`init_from_env`] is what an application calls once at start-up: it reads
//! the [OpenTelemetry SDK environment variables], builds a tracer provider
//! with a batch span processor and a meter provider with a periodic reader,
//! both exporting OTLP over HTTP with protobuf bodies, and installs them (and
//! the W3C Trace Context + Baggage propagator) as the process-wide globals.
//! [`init`] does the same from an explicit [`ExportConfig`] and reads no
//! environment of its own, apart from the few variables the exporter and SDK
//! read themselves (listed on [`ExportConfig`]).
//!
//! Export needs no async runtime: the batch span processor and the periodic
//! metric reader each run on their own thread and send with a blocking HTTP
//! client. Only `http://` endpoints are supported unless the `otlp-tls`
//! feature is on.
//!
//! The returned [`Telemetry`] owns the providers. [`Telemetry::shutdown`]
//! (or dropping it) flushes what is buffered and never waits longer than the
//! configured export timeout, so a process whose collector is down still
//! exits promptly.
//!
//! An export that fails never fails the application. Many backends take one
//! signal and not another (Jaeger and Tempo take traces and answer 404 for
//! metrics), and a collector can be down: the first failure of each signal is
//! reported in one line on stderr, naming the signal, the endpoint and the
//! variable that turns that signal off; every failure is counted
//! ([`Telemetry::export_counts`]); flush and shutdown still succeed.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `OTEL_SDK_DISABLED` | `true` turns export off (the propagator is still installed) | `false` |
//! | `OTEL_SERVICE_NAME` | `service.name`; wins over the one in `OTEL_RESOURCE_ATTRIBUTES` | `unknown_service` |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,...`, values percent-encoded | none |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | base URL; `/v1/traces` and `/v1/metrics` are appended | `http://localhost:4318` |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | full URL for spans, used as is | from the base |
//! | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` | full URL for metrics, used as is | from the base |
//! | `OTEL_EXPORTER_OTLP_HEADERS` | `key=value,...` sent with every request | none |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT` | milliseconds per export, and the shutdown bound | `10000` |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` (and `_TRACES_`/`_METRICS_` forms) | only `http/protobuf` | `http/protobuf` |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | the spec's samplers | `parentbased_always_on` |
//! | `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER` | `otlp`, or `none` to export nothing of that signal | `otlp` |
//! | `OTEL_LOGS_EXPORTER` | `otlp` or `none`; checked only, as this module exports no logs | `otlp` |
//!
//! [OpenTelemetry SDK environment variables]: https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
//!
//! # Example
//!
//! ```no_run
//! use opentelemetry::trace::{Tracer, TracerProvider};
//!
//! fn main() -> Result<(), tracewire::otel::export::ExportError> {
//!     let telemetry = tracewire::otel::export::init_from_env()?;
//!
//!     let tracer = opentelemetry::global::tracer("my-service");
//!     tracer.in_span("handle-connection", |_cx| {
//!         // ... serve the WebSocket ...
//!     });
//!
//!     // Flushes spans and metrics; bounded by OTEL_EXPORTER_OTLP_TIMEOUT.
//!     telemetry.shutdown()
//! }
//! ```

mod config;
mod signals;

pub use config::ExportConfig;
pub use signals::{ExportCounts, Signal};

use std::collections::HashMap;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use opentelemetry_otlp::{
    ExporterBuildError, MetricExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig,
};
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracerProvider};

use signals::{CountingEnds, Reporting, SignalHealth};

/// The collector address used when no endpoint variable is set (OTLP/HTTP's
/// well-known port on the local host).
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";

/// The export timeout used when `OTEL_EXPORTER_OTLP_TIMEOUT` is not set, as
/// the specification says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The only OTLP protocol this module speaks, as spelled in
/// `OTEL_EXPORTER_OTLP_PROTOCOL`.
pub const SUPPORTED_PROTOCOL: &str = "http/protobuf";

/// Why export could not be set up, flushed or shut down.
///
/// Configuration errors name the variable and the value at fault, so the
/// message alone tells an operator what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// An OTLP protocol other than `http/protobuf` was asked for.
    #[error(
        "{variable}={value:?} is not supported: tracewire exports OTLP over HTTP with protobuf only; set it to \"http/protobuf\" or leave it unset"
    )]
    UnsupportedProtocol {
        /// The variable that named the protocol.
        variable: &'static str,
        /// The protocol it named.
        value: String,
    },

    /// A variable (or the matching [`ExportConfig`] field) holds a value that
    /// cannot be used.
    #[error("{variable}={value:?} is invalid: {reason}")]
    InvalidSetting {
        /// The environment variable, or the config field, at fault.
        variable: &'static str,
        /// The value given.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },

    /// The OTLP exporter for one signal could not be built.
    #[error("could not create the OTLP/HTTP {signal} exporter: {source}")]
    Exporter {
        /// `"span"` or `"metric"`.
        signal: &'static str,
        /// The exporter's own error.
        #[source]
        source: ExporterBuildError,
    },

    /// Flushing or shutting down did not finish in time. Telemetry still
    /// buffered may be lost; usually the collector is unreachable or slow.
    #[error(
        "{operation} did not finish within {timeout:?}; unexported spans or metrics may be lost (is the OTLP collector reachable?)"
    )]
    TimedOut {
        /// `"flush"` or `"shutdown"`.
        operation: &'static str,
        /// The bound that was exceeded.
        timeout: Duration,
    },

    /// The SDK reported a failure while flushing or shutting down one signal,
    /// typically because the export itself failed.
    #[error("{operation} of {signal} failed: {source}")]
    Sdk {
        /// `"flush"` or `"shutdown"`.
        operation: &'static str,
        /// `"spans"` or `"metrics"`.
        signal: &'static str,
        /// The SDK's error.
        #[source]
        source: OTelSdkError,
    },

    /// A helper thread could not be started or died unexpectedly.
    #[error("could not run the telemetry {operation}: {reason}")]
    Internal {
        /// `"flush"` or `"shutdown"`.
        operation: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// Reads the `OTEL_*` environment, sets up OTLP/HTTP export and installs the
/// global tracer provider, meter provider and propagator.
///
/// Call it once, early in `main`, and keep the returned [`Telemetry`] alive
/// until the process is about to exit.
pub fn init_from_env() -> Result<Telemetry, ExportError> {
    init(ExportConfig::from_env()?)
}

/// Sets up OTLP/HTTP export from `config` and installs the global tracer
/// provider, meter provider and the W3C Trace Context + Baggage propagator.
///
/// When `config.disabled` is set, the propagator is still installed (so
/// incoming context keeps flowing through this process) but nothing is
/// exported and the global providers are left as they were; the returned
/// providers record nothing.
pub fn init(config: ExportConfig) -> Result<Telemetry, ExportError> {
    opentelemetry::global::set_text_map_propagator(super::W3CPropagator);

    let traces = Arc::new(SignalHealth::new(Signal::Traces, &config.traces_endpoint));
    let metrics = Arc::new(SignalHealth::new(Signal::Metrics, &config.metrics_endpoint));

    if config.disabled {
        return Ok(Telemetry {
            tracer_provider: SdkTracerProvider::builder()
                .with_sampler(Sampler::AlwaysOff)
                .build(),
            meter_provider: SdkMeterProvider::builder().build(),
            timeout: config.timeout,
            traces,
            metrics,
            shut_down: false,
        });
    }

    if config.timeout.is_zero() {
        return Err(ExportError::InvalidSetting {
            variable: "OTEL_EXPORTER_OTLP_TIMEOUT",
            value: "0".to_owned(),
            reason: "expected a positive number of milliseconds".to_owned(),
        });
    }

    let headers: HashMap<String, String> = config.headers.iter().cloned().collect();
    let resource = config.resource();

    let mut tracer_provider = SdkTracerProvider::builder()
        .with_sampler(config.sampler.clone())
        .with_resource(resource.clone());
    if config.export_traces {
        ExportConfig::check_endpoint(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &config.traces_endpoint,
        )?;
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.traces_endpoint.clone())
            .with_timeout(config.timeout)
            .with_headers(headers.clone())
            .build()
            .map_err(|source| ExportError::Exporter {
                signal: "span",
                source,
            })?;
        let batch = BatchSpanProcessor::builder(Reporting {
            inner: exporter,
            health: traces.clone(),
        })
        .build();
        tracer_provider = tracer_provider.with_span_processor(CountingEnds {
            inner: batch,
            health: traces.clone(),
        });
    }

    let mut meter_provider = SdkMeterProvider::builder().with_resource(resource);
    if config.export_metrics {
        ExportConfig::check_endpoint(
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            &config.metrics_endpoint,
        )?;
        let exporter = MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.metrics_endpoint.clone())
            .with_timeout(config.timeout)
            .with_headers(headers)
            .build()
            .map_err(|source| ExportError::Exporter {
                signal: "metric",
                source,
            })?;
        meter_provider = meter_provider.with_reader(
            PeriodicReader::builder(Reporting {
                inner: exporter,
                health: metrics.clone(),
            })
            .build(),
        );
    }
    let tracer_provider = tracer_provider.build();
    let meter_provider = meter_provider.build();

    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());

    Ok(Telemetry {
        tracer_provider,
        meter_provider,
        timeout: config.timeout,
        traces,
        metrics,
        shut_down: false,
    })
}

/// The running export pipeline: the SDK tracer and meter providers that
/// [`init`] created and installed.
///
/// Shut it down with [`Telemetry::shutdown`] before the process exits so
/// buffered spans and metrics are sent. Dropping it without that shuts down
/// too, with the same time bound, ignoring the outcome.
#[derive(Debug)]
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    timeout: Duration,
    traces: Arc<SignalHealth>,
    metrics: Arc<SignalHealth>,
    shut_down: bool,
}

impl Telemetry {
    /// The tracer provider; the same one installed as the global.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The meter provider; the same one installed as the global.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// The bound on [`force_flush`](Self::force_flush) and
    /// [`shutdown`](Self::shutdown): the configured export timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How the export requests of `signal` went so far. A failed export is
    /// not an error of [`force_flush`](Self::force_flush) or
    /// [`shutdown`](Self::shutdown); it is counted here (and its signal's
    /// first failure reported on stderr).
    pub fn export_counts(&self, signal: Signal) -> ExportCounts {
        match signal {
            Signal::Traces => self.traces.counts(),
            Signal::Metrics => self.metrics.counts(),
        }
    }

    /// Exports everything recorded so far and waits for it, for at most
    /// [`timeout`](Self::timeout).
    pub fn force_flush(&self) -> Result<(), ExportError> {
        run_bounded(
            "flush",
            self.timeout,
            &self.tracer_provider,
            &self.meter_provider,
            |tracer| tracer.force_flush(),
            |meter| meter.force_flush(),
        )
    }

    /// Flushes and stops both providers, returning within about
    /// [`timeout`](Self::timeout) even when the collector is unreachable.
    ///
    /// After this, spans and measurements from the global providers are
    /// dropped. Exports that fail (a backend that takes no metrics, a
    /// collector that is down) are not errors here: they are reported once
    /// per signal, counted ([`export_counts`](Self::export_counts)) and, if
    /// any failed, summed up in one line per signal on stderr here. An
    /// error means the pipeline itself could not be shut down in time, so
    /// some telemetry may not have been delivered; it is worth a warning,
    /// not a failed exit.
    pub fn shutdown(mut self) -> Result<(), ExportError> {
        let result = self.shutdown_once();
        for health in [&self.traces, &self.metrics] {
            if let Some(line) = health.summary_line() {
                eprintln!("{line}");
            }
        }
        result
    }

    fn shutdown_once(&mut self) -> Result<(), ExportError> {
        if self.shut_down {
            return Ok(());
        }
        self.shut_down = true;
        let timeout = self.timeout;
        run_bounded(
            "shutdown",
            timeout,
            &self.tracer_provider,
            &self.meter_provider,
            move |tracer| tracer.shutdown_with_timeout(timeout),
            move |meter| meter.shutdown_with_timeout(timeout),
        )
    }
}

impl Drop for Telemetry {
    /// Shuts down if [`Telemetry::shutdown`] was not called; bounded the same
    /// way, and silent because a destructor cannot report.
    fn drop(&mut self) {
        let _ = self.shutdown_once();
    }
}

/// Runs one operation per signal on its own thread and waits for both, for
/// at most `timeout`.
///
/// The SDK bounds trace shutdown itself, but metric shutdown and both flushes
/// wait on the exporter with bounds of their own (or none); waiting here on a
/// channel is what makes the whole call bounded. A thread still stuck in an
/// export when the time is up is left to finish on its own.
fn run_bounded(
    operation: &'static str,
    timeout: Duration,
    tracer_provider: &SdkTracerProvider,
    meter_provider: &SdkMeterProvider,
    on_tracer: impl FnOnce(&SdkTracerProvider) -> Result<(), OTelSdkError> + Send + 'static,
    on_meter: impl FnOnce(&SdkMeterProvider) -> Result<(), OTelSdkError> + Send + 'static,
) -> Result<(), ExportError> {
    let deadline = Instant::now() + timeout;
    let (done_tx, done_rx) = mpsc::channel::<(&'static str, Result<(), OTelSdkError>)>();
    let spawn_error = |error: std::io::Error| ExportError::Internal {
        operation,
        reason: format!("could not start a helper thread: {error}"),
    };

    let tracer = tracer_provider.clone();
    let tx = done_tx.clone();
    std::thread::Builder::new()
        .name(format!("tracewire-otlp-{operation}-spans"))
        .spawn(move || {
            let _ = tx.send(("spans", on_tracer(&tracer)));
        })
        .map_err(spawn_error)?;

    let meter = meter_provider.clone();
    std::thread::Builder::new()
        .name(format!("tracewire-otlp-{operation}-metrics"))
        .spawn(move || {
            let _ = done_tx.send(("metrics", on_meter(&meter)));
        })
        .map_err(spawn_error)?;

    let mut first_error = None;
    for _ in 0..2 {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(remaining) {
            Ok((_, Ok(()))) => {}
            Ok((signal, Err(source))) => {
                first_error.get_or_insert(ExportError::Sdk {
                    operation,
                    signal,
                    source,
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(ExportError::TimedOut { operation, timeout });
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(ExportError::Internal {
                    operation,
                    reason: "a helper thread panicked".to_owned(),
                });
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}
