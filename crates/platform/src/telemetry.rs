//! Logs, traces and metrics of a service process.
//!
//! - Logs: JSON lines by default (text on request), filtered by `RUST_LOG`; every line inside a
//!   request carries the request's `trace_id`.
//! - Traces: an OpenTelemetry tracer provider always exists, so trace ids are real and travel
//!   on; spans are exported over OTLP/gRPC only when the standard `OTEL_EXPORTER_OTLP_*`
//!   variables name an endpoint (and `OTEL_TRACES_EXPORTER` is not `none`).
//! - W3C trace context is read from incoming gRPC metadata and written into outgoing metadata
//!   and into events.
//! - Metrics: a Prometheus recorder with `/metrics` on its own port.
//!
//! [`Telemetry`] owns the providers and flushes them in order on drop.

use std::{collections::HashMap, net::SocketAddr, sync::OnceLock};

use opentelemetry::{
    propagation::{Extractor, Injector},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::{LogFormat, MetricsListen, TelemetryArgs};

/// Keeps the tracer provider alive; flushes pending spans when dropped.
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(error) = self.tracer_provider.shutdown() {
            eprintln!("telemetry: flushing traces failed: {error}");
        }
    }
}

/// Installs logging, tracing and the trace-context propagator for a service process.
/// Call once, inside the tokio runtime, before anything logs.
pub fn init(service_name: &'static str, args: &TelemetryArgs) -> Telemetry {
    let (otel, tracer_provider) = trace_layer(service_name);

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = match args.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        // Colours only for a person at a terminal, never into a file or a collector.
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(otel)
        .with(fmt)
        .init();
    Telemetry { tracer_provider }
}

/// The OpenTelemetry layer for a `tracing` subscriber, with the provider that owns its spans
/// (keep it alive; shut it down to flush). Installs the W3C trace-context propagator, so trace
/// ids exist and travel even when nothing is exported. Tests build their subscriber with it too.
pub fn trace_layer<S>(service_name: &'static str) -> (impl Layer<S>, SdkTracerProvider)
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    trace_layer_with(service_name, tracer_provider(service_name))
}

/// A tracer provider exporting to the OTLP/gRPC receiver at `endpoint` every 100 ms, whatever
/// the environment says, for [`trace_layer_with`]: for tests that read what an operator's
/// collector would receive.
pub fn tracer_provider_exporting_to(
    service_name: &'static str,
    endpoint: &str,
) -> SdkTracerProvider {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .expect("an OTLP exporter to a loopback address");
    let processor = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            opentelemetry_sdk::trace::BatchConfigBuilder::default()
                .with_scheduled_delay(std::time::Duration::from_millis(100))
                .build(),
        )
        .build();
    SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service_name).build())
        .with_span_processor(processor)
        .build()
}

/// [`trace_layer`] on a provider of the caller's.
pub fn trace_layer_with<S>(
    service_name: &'static str,
    provider: SdkTracerProvider,
) -> (impl Layer<S>, SdkTracerProvider)
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    // Only fallwerk's own spans become traces: h2's and hyper's connection spans at debug would
    // each be a trace of their own. No `busy_ns`/`idle_ns`, thread or source-location
    // attributes: the conventions' attributes are what an operator queries.
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service_name))
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
            metadata.target().starts_with("fallwerk")
        }));
    (layer, provider)
}

/// The tracer provider the environment configures: OTLP/gRPC export when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, none otherwise (trace ids still exist and travel).
pub fn tracer_provider(service_name: &'static str) -> SdkTracerProvider {
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service_name);
    }
    let builder = SdkTracerProvider::builder().with_resource(resource.build());
    if !otlp_configured() {
        return builder.build();
    }
    match opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
    {
        Ok(exporter) => builder.with_batch_exporter(exporter).build(),
        Err(error) => {
            eprintln!("telemetry: OTLP exporter not started: {error}");
            builder.build()
        }
    }
}

fn otlp_configured() -> bool {
    let endpoint = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT")
        .or_else(|| std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
    let disabled = std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|v| v == "none");
    endpoint.is_some() && !disabled
}

/// Starts the Prometheus recorder and its `/metrics` listener. The recorder is process-global:
/// a second call (several services in one test process) keeps the first.
pub fn init_metrics(listen: MetricsListen) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    let MetricsListen::Addr(addr) = listen else {
        return;
    };
    INSTALLED.get_or_init(|| install_prometheus(addr));
}

fn install_prometheus(addr: SocketAddr) {
    let built = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets(&[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ])
        .and_then(|b| b.build());
    match built {
        Ok((recorder, exporter)) => {
            if metrics::set_global_recorder(recorder).is_ok() {
                tokio::spawn(async move {
                    if let Err(error) = exporter.await {
                        tracing::error!(?error, "metrics listener stopped");
                    }
                });
                tracing::info!(%addr, "metrics on /metrics");
            }
        }
        Err(error) => tracing::error!(%error, %addr, "metrics listener not started"),
    }
}

/// Makes `span` a child of the W3C trace context in `headers` (if any) and returns its trace id.
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) -> String {
    let parent =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    if parent.span().span_context().is_valid() {
        // Only fails when no OpenTelemetry layer is installed; then there is no trace to join.
        let _ = span.set_parent(parent);
    }
    trace_id_of(span)
}

/// Makes `span` a child of a stored `traceparent` (as written into events).
pub fn continue_trace_from(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The trace id of `span`, or an empty string outside a trace.
pub fn trace_id_of(span: &tracing::Span) -> String {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span_context.trace_id().to_string()
    } else {
        String::new()
    }
}

/// The W3C `traceparent` of the current span, for storing with an event; empty outside a trace.
pub fn current_traceparent() -> String {
    let mut carrier = HashMap::new();
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, &mut carrier));
    carrier.remove("traceparent").unwrap_or_default()
}

/// Writes the current span's trace context into outgoing gRPC metadata.
pub fn inject_current(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut MetadataInjector(metadata))
    });
}

/// Reads W3C trace context from HTTP/2 headers.
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Writes W3C trace context into gRPC metadata.
struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            value.parse(),
        ) {
            self.0.insert(key, value);
        }
    }
}
