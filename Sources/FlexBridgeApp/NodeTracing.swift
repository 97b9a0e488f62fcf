import Foundation
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// A node's traces: OpenTelemetry spans exported by OTLP over HTTP, off unless an OTLP endpoint is configured with
/// OpenTelemetry's own variables (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; the others,
/// such as `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER` or `OTEL_EXPORTER_OTLP_HEADERS`, apply as they are documented).
/// Metrics stay Prometheus's (`/metrics`) and logs stay on standard error.
public enum NodeTracing {
    /// Whether the environment asks for traces: an OTLP endpoint is set, and neither `OTEL_SDK_DISABLED=true` nor
    /// `OTEL_TRACES_EXPORTER=none` turns them off.
    public static func isRequested(_ environment: [String: String]) -> Bool {
        let endpoint = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"].contains {
            !(environment[$0] ?? "").trimmingCharacters(in: .whitespaces).isEmpty
        }
        let disabled = environment["OTEL_SDK_DISABLED"]?.lowercased() == "true"
        let noExporter = environment["OTEL_TRACES_EXPORTER"]?.lowercased() == "none"
        return endpoint && !disabled && !noExporter
    }

    /// Bootstraps the process's tracer when the environment asks for traces, and returns the service that exports its
    /// spans: the node runs it first, so that it stops last and sends the spans of the node's last work. Nil when
    /// traces are off (every span is then a no-op). Call once per process.
    public static func bootstrap(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger
    ) throws -> (any Service)? {
        guard isRequested(environment) else { return nil }
        try check(environment)
        var configuration = OTel.Configuration.default
        // The exporter's own messages, at warning and above, without the values of the variables it read: the
        // headers' carry the collector's credentials.
        var diagnostics = logger
        diagnostics.handler = OmittingVariableValues(base: logger.handler)
        diagnostics.logLevel = .warning
        configuration.diagnosticLogger = .custom(diagnostics)
        configuration.diagnosticLogLevel = .warning
        configuration.serviceName = "flexbridge"
        configuration.traces.enabled = true
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        let backend: (factory: any Tracer, service: any Service)
        do {
            // The OTEL_ variables override these defaults.
            let made = try OTel.makeTracingBackend(configuration: configuration)
            backend = (made.factory, made.service)
        } catch {
            throw StartupError(message: "Traces cannot be exported as the OTEL_ variables say: \(error).")
        }
        InstrumentationSystem.bootstrap(backend.factory)
        return backend.service
    }

    /// Refuses what the exporter cannot do (it would stop the process): a protocol other than OTLP over HTTP, a
    /// propagator other than W3C trace context, a remote sampler, an endpoint that is not an http(s) URL.
    static func check(_ environment: [String: String]) throws {
        for name in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
            guard let value = environment[name], !value.isEmpty else { continue }
            guard ["http/protobuf", "http/json"].contains(value) else {
                throw StartupError(
                    message:
                        "\(name) is \(value): FlexBridge sends traces by OTLP over HTTP only; set it to http/protobuf (the default) or http/json."
                )
            }
        }
        // The exporter supports W3C trace context only, and no remote sampler.
        if let value = environment["OTEL_PROPAGATORS"], !value.isEmpty {
            let unsupported = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !["tracecontext", "none"].contains($0)
            }
            guard unsupported.isEmpty else {
                throw StartupError(
                    message:
                        "OTEL_PROPAGATORS is \(value), but FlexBridge propagates W3C trace context only, not \(unsupported.joined(separator: ", ")): set it to tracecontext."
                )
            }
        }
        if let value = environment["OTEL_TRACES_SAMPLER"],
            ["jaeger_remote", "parentbased_jaeger_remote", "xray"].contains(value)
        {
            throw StartupError(
                message:
                    "OTEL_TRACES_SAMPLER is \(value), a remote sampler FlexBridge does not have; use always_on, always_off, traceidratio or a parentbased_ one."
            )
        }
        for name in ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"] {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { continue }
            guard let url = URL(string: value), ["http", "https"].contains(url.scheme?.lowercased()),
                url.host?.isEmpty == false
            else {
                throw StartupError(
                    message:
                        "\(name) must be the collector's http:// or https:// URL, such as http://127.0.0.1:4318; got \(value)."
                )
            }
        }
    }
}

/// Passes log entries on without the values of the environment variables they name.
struct OmittingVariableValues: LogHandler {
    /// And `carrier`: the headers of a request whose trace context the exporter could not read.
    static let omitted: Set<String> = ["environment_value", "previous_value", "new_value", "carrier"]
    var base: any LogHandler

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue.filter { !Self.omitted.contains($0.key) } }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { if !Self.omitted.contains(key) { base[metadataKey: key] = newValue } }
    }

    func log(event: LogEvent) {
        var event = event
        event.metadata = event.metadata?.filter { !Self.omitted.contains($0.key) }
        base.log(event: event)
    }
}
