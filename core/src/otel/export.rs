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

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry_otlp::{
    ExporterBuildError, MetricExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData};

/// The collector address used when no endpoint variable is set (OTLP/HTTP's
/// well-known port on the local host).
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";

/// The export timeout used when `OTEL_EXPORTER_OTLP_TIMEOUT` is not set, as
/// the specification says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The only OTLP protocol this module speaks, as spelled in
/// `OTEL_EXPORTER_OTLP_PROTOCOL`.
pub const SUPPORTED_PROTOCOL: &str = "http/protobuf";

/// The exporter names `OTEL_{TRACES,METRICS,LOGS}_EXPORTER` may hold here.
const EXPORTER_OTLP: &str = "otlp";
const EXPORTER_NONE: &str = "none";

const TRACES_PATH: &str = "/v1/traces";
const METRICS_PATH: &str = "/v1/metrics";
const SERVICE_NAME_KEY: &str = "service.name";

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

/// Everything [`init`] needs, usually read from the environment with
/// [`ExportConfig::from_env`].
///
/// Built with [`ExportConfig::default`] and the `with_*` methods. Besides
/// these fields, a few variables are still read by the exporter and the SDK
/// themselves and so apply to [`init`] too: the per-signal
/// `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_HEADERS` and
/// `OTEL_EXPORTER_OTLP_HEADERS` (merged over [`headers`](Self::headers)),
/// `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_BSP_*` (batch size, delay, queue)
/// and `OTEL_METRIC_EXPORT_INTERVAL`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExportConfig {
    /// `true` when `OTEL_SDK_DISABLED=true`: nothing is exported and no
    /// global providers are installed.
    pub disabled: bool,
    /// The `service.name` resource attribute; `None` falls back to the one in
    /// [`resource_attributes`](Self::resource_attributes), then to
    /// `unknown_service`.
    pub service_name: Option<String>,
    /// Further resource attributes, already percent-decoded.
    pub resource_attributes: Vec<(String, String)>,
    /// The full URL spans are POSTed to.
    pub traces_endpoint: String,
    /// The full URL metrics are POSTed to.
    pub metrics_endpoint: String,
    /// Extra request headers; values in the `OTEL_EXPORTER_OTLP_HEADERS`
    /// form (percent-encoded), which the exporter decodes.
    pub headers: Vec<(String, String)>,
    /// The limit for one export request including retries, and the bound on
    /// [`Telemetry::force_flush`] and [`Telemetry::shutdown`].
    pub timeout: Duration,
    /// The sampler for root spans and their children.
    pub sampler: Sampler,
    /// Whether spans are exported (`OTEL_TRACES_EXPORTER` is not `none`).
    /// Without export, spans are still sampled and propagated.
    pub export_traces: bool,
    /// Whether metrics are exported (`OTEL_METRICS_EXPORTER` is not `none`).
    pub export_metrics: bool,
}

impl Default for ExportConfig {
    /// The specification's defaults: a collector on `localhost:4318`, a 10 s
    /// timeout, `parentbased_always_on`.
    fn default() -> Self {
        Self {
            disabled: false,
            service_name: None,
            resource_attributes: Vec::new(),
            traces_endpoint: join_endpoint(DEFAULT_ENDPOINT, TRACES_PATH),
            metrics_endpoint: join_endpoint(DEFAULT_ENDPOINT, METRICS_PATH),
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            sampler: Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            export_traces: true,
            export_metrics: true,
        }
    }
}

impl ExportConfig {
    /// Reads the configuration from the process environment.
    ///
    /// See [`ExportConfig::from_env_map`] for the rules.
    pub fn from_env() -> Result<Self, ExportError> {
        Self::from_env_map(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's
    /// value or `None` when it is unset.
    ///
    /// Empty values count as unset, as the specification says. Unlike the
    /// SDK, which logs and falls back, a value that cannot be honoured (an
    /// unsupported protocol, a malformed timeout, sampler or resource
    /// attribute) is an error, so a misconfigured deployment fails at start-up
    /// instead of silently sending nowhere.
    ///
    /// ```
    /// use tracewire::otel::export::ExportConfig;
    ///
    /// let config = ExportConfig::from_env_map(|name| match name {
    ///     "OTEL_SERVICE_NAME" => Some("gateway".to_owned()),
    ///     "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318/".to_owned()),
    ///     _ => None,
    /// })?;
    /// assert_eq!(config.service_name.as_deref(), Some("gateway"));
    /// assert_eq!(config.traces_endpoint, "http://collector:4318/v1/traces");
    /// # Ok::<(), tracewire::otel::export::ExportError>(())
    /// ```
    pub fn from_env_map<F>(lookup: F) -> Result<Self, ExportError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        for variable in [
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        ] {
            if let Some(value) = get(variable)
                && value.trim() != SUPPORTED_PROTOCOL
            {
                return Err(ExportError::UnsupportedProtocol { variable, value });
            }
        }

        let disabled =
            get("OTEL_SDK_DISABLED").is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));

        let base = get("OTEL_EXPORTER_OTLP_ENDPOINT");
        let base = base.as_deref().map(str::trim).unwrap_or(DEFAULT_ENDPOINT);
        let traces_endpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .map(|value| value.trim().to_owned())
            .unwrap_or_else(|| join_endpoint(base, TRACES_PATH));
        let metrics_endpoint = get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
            .map(|value| value.trim().to_owned())
            .unwrap_or_else(|| join_endpoint(base, METRICS_PATH));

        let timeout = match get("OTEL_EXPORTER_OTLP_TIMEOUT") {
            None => DEFAULT_TIMEOUT,
            Some(value) => match value.trim().parse::<u64>() {
                Ok(millis) if millis > 0 => Duration::from_millis(millis),
                _ => {
                    return Err(ExportError::InvalidSetting {
                        variable: "OTEL_EXPORTER_OTLP_TIMEOUT",
                        value,
                        reason: "expected a positive whole number of milliseconds, e.g. 10000"
                            .to_owned(),
                    });
                }
            },
        };

        let headers = match get("OTEL_EXPORTER_OTLP_HEADERS") {
            None => Vec::new(),
            Some(value) => {
                parse_key_values(&value, false).map_err(|reason| ExportError::InvalidSetting {
                    variable: "OTEL_EXPORTER_OTLP_HEADERS",
                    value: value.clone(),
                    reason,
                })?
            }
        };

        let resource_attributes = match get("OTEL_RESOURCE_ATTRIBUTES") {
            None => Vec::new(),
            Some(value) => {
                parse_key_values(&value, true).map_err(|reason| ExportError::InvalidSetting {
                    variable: "OTEL_RESOURCE_ATTRIBUTES",
                    value: value.clone(),
                    reason,
                })?
            }
        };

        let sampler = parse_sampler(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG"))?;
        let export_traces = parse_exporter("OTEL_TRACES_EXPORTER", get("OTEL_TRACES_EXPORTER"))?;
        let export_metrics = parse_exporter("OTEL_METRICS_EXPORTER", get("OTEL_METRICS_EXPORTER"))?;
        // No log pipeline is set up here, but a value this module could not
        // honour is still a configuration error, as for the other signals.
        parse_exporter("OTEL_LOGS_EXPORTER", get("OTEL_LOGS_EXPORTER"))?;

        Ok(Self {
            disabled,
            service_name: get("OTEL_SERVICE_NAME").map(|name| name.trim().to_owned()),
            resource_attributes,
            traces_endpoint,
            metrics_endpoint,
            headers,
            timeout,
            sampler,
            export_traces,
            export_metrics,
        })
    }

    /// Sets `service.name`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Sends to the collector at `base`, appending `/v1/traces` and
    /// `/v1/metrics` as `OTEL_EXPORTER_OTLP_ENDPOINT` does.
    pub fn with_endpoint(mut self, base: &str) -> Self {
        self.traces_endpoint = join_endpoint(base, TRACES_PATH);
        self.metrics_endpoint = join_endpoint(base, METRICS_PATH);
        self
    }

    /// Sets the per-request export timeout, which also bounds flush and
    /// shutdown.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds a request header sent with every export.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a resource attribute.
    pub fn with_resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.resource_attributes.push((key.into(), value.into()));
        self
    }

    /// Sets the sampler.
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// Turns the export of one signal off (as `OTEL_TRACES_EXPORTER=none` or
    /// `OTEL_METRICS_EXPORTER=none` does) or back on.
    pub fn with_signal_exported(mut self, signal: Signal, exported: bool) -> Self {
        match signal {
            Signal::Traces => self.export_traces = exported,
            Signal::Metrics => self.export_metrics = exported,
        }
        self
    }

    /// Turns export off (as `OTEL_SDK_DISABLED=true` does) or back on.
    pub fn with_disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    fn resource(&self) -> Resource {
        let service_name = self
            .service_name
            .clone()
            .or_else(|| {
                self.resource_attributes
                    .iter()
                    .rev()
                    .find(|(key, _)| key == SERVICE_NAME_KEY)
                    .map(|(_, value)| value.clone())
            })
            .unwrap_or_else(|| "unknown_service".to_owned());
        Resource::builder_empty()
            .with_detector(Box::new(TelemetryResourceDetector))
            .with_attributes(
                self.resource_attributes
                    .iter()
                    .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
            )
            .with_service_name(service_name)
            .build()
    }

    fn check_endpoint(variable: &'static str, endpoint: &str) -> Result<(), ExportError> {
        let invalid = |reason: &str| ExportError::InvalidSetting {
            variable,
            value: endpoint.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|_| invalid("expected an absolute URL such as http://localhost:4318"))?;
        match uri.scheme_str() {
            Some("http") => Ok(()),
            Some("https") if cfg!(feature = "otlp-tls") => Ok(()),
            Some("https") => Err(invalid(
                "https endpoints need tracewire's `otlp-tls` feature; this build sends plain http only",
            )),
            _ => Err(invalid(
                "expected an http:// URL such as http://localhost:4318",
            )),
        }?;
        if uri.host().is_none() {
            return Err(invalid("the URL has no host"));
        }
        Ok(())
    }
}

/// Appends a signal path to a base endpoint as the OTLP exporter
/// specification says: exactly one `/` between them.
fn join_endpoint(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// Parses the `key=value,key=value` form shared by
/// `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`.
fn parse_key_values(input: &str, decode: bool) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for item in input
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("\"{item}\" is not of the form key=value"));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("\"{item}\" has an empty key"));
        }
        let value = value.trim();
        let value = if decode {
            percent_decode(value).ok_or_else(|| {
                format!("the value of \"{key}\" is not valid percent-encoded UTF-8")
            })?
        } else {
            value.to_owned()
        };
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = input.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Reads one `OTEL_*_EXPORTER` variable: a comma-separated list of exporter
/// names, of which this module implements `otlp`; `none` alone turns the
/// signal off. Returns whether the signal is exported.
fn parse_exporter(variable: &'static str, value: Option<String>) -> Result<bool, ExportError> {
    let Some(value) = value else {
        return Ok(true);
    };
    let names: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    if names == [EXPORTER_NONE] {
        return Ok(false);
    }
    match names.iter().find(|name| **name != EXPORTER_OTLP) {
        None => Ok(true),
        Some(name) => Err(ExportError::InvalidSetting {
            variable,
            value: value.clone(),
            reason: format!(
                "exporter \"{name}\" is not available: tracewire exports \"{EXPORTER_OTLP}\" \
                 (OTLP over HTTP), or nothing with \"{EXPORTER_NONE}\""
            ),
        }),
    }
}

fn parse_sampler(name: Option<String>, arg: Option<String>) -> Result<Sampler, ExportError> {
    let ratio = || -> Result<f64, ExportError> {
        let Some(arg) = arg.clone() else {
            return Ok(1.0);
        };
        match arg.trim().parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
            _ => Err(ExportError::InvalidSetting {
                variable: "OTEL_TRACES_SAMPLER_ARG",
                value: arg,
                reason: "expected a sampling probability between 0.0 and 1.0".to_owned(),
            }),
        }
    };
    let Some(name) = name else {
        return Ok(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    };
    Ok(match name.trim() {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
        "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        "parentbased_traceidratio" => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio()?)))
        }
        _ => {
            return Err(ExportError::InvalidSetting {
                variable: "OTEL_TRACES_SAMPLER",
                value: name,
                reason: "supported samplers are always_on, always_off, traceidratio, \
                         parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
                    .to_owned(),
            });
        }
    })
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
        tracer_provider = tracer_provider.with_batch_exporter(Reporting {
            inner: exporter,
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
struct SignalHealth {
    signal: Signal,
    endpoint: String,
    exported: AtomicU64,
    failed: AtomicU64,
    reported: AtomicBool,
}

impl SignalHealth {
    fn new(signal: Signal, endpoint: &str) -> Self {
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

    fn counts(&self) -> ExportCounts {
        ExportCounts {
            exported: self.exported.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// An exporter that counts and reports its inner exporter's outcomes.
#[derive(Debug)]
struct Reporting<E> {
    inner: E,
    health: Arc<SignalHealth>,
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
    /// per signal and counted ([`export_counts`](Self::export_counts)). An
    /// error means the pipeline itself could not be shut down in time, so
    /// some telemetry may not have been delivered; it is worth a warning,
    /// not a failed exit.
    pub fn shutdown(mut self) -> Result<(), ExportError> {
        self.shutdown_once()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_endpoint_puts_exactly_one_slash() {
        assert_eq!(
            join_endpoint("http://h:4318", "/v1/traces"),
            "http://h:4318/v1/traces"
        );
        assert_eq!(
            join_endpoint("http://h:4318/", "/v1/traces"),
            "http://h:4318/v1/traces"
        );
        assert_eq!(
            join_endpoint("http://h/otlp/", "/v1/metrics"),
            "http://h/otlp/v1/metrics"
        );
    }

    #[test]
    fn percent_decode_cases() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%E2%9C%93").as_deref(), Some("\u{2713}"));
        assert_eq!(percent_decode("100%"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%FF"), None);
    }
}
