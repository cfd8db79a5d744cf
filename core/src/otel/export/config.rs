//! [`ExportConfig`]: what [`init`](super::init) needs, and how it is read
//! from the `OTEL_*` environment.

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::Sampler;
use std::time::Duration;

use super::{DEFAULT_ENDPOINT, DEFAULT_TIMEOUT, ExportError, SUPPORTED_PROTOCOL, Signal};
#[cfg(doc)]
use super::{Telemetry, init};

/// The exporter names `OTEL_{TRACES,METRICS,LOGS}_EXPORTER` may hold here.
const EXPORTER_OTLP: &str = "otlp";
const EXPORTER_NONE: &str = "none";

const TRACES_PATH: &str = "/v1/traces";
const METRICS_PATH: &str = "/v1/metrics";
const SERVICE_NAME_KEY: &str = "service.name";

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

    pub(super) fn resource(&self) -> Resource {
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

    pub(super) fn check_endpoint(
        variable: &'static str,
        endpoint: &str,
    ) -> Result<(), ExportError> {
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
