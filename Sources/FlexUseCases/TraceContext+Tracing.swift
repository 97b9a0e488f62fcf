import FlexCore
import Tracing

extension TraceContext {
    /// The trace the current task works in, as the bootstrapped tracer propagates it (OpenTelemetry: `traceparent`,
    /// `tracestate`); nil when tracing is off or no span is active. What a use case stores with the work it leaves for
    /// a worker.
    public static var current: TraceContext? { TraceContext(of: InstrumentationContext.current) }

    /// The propagation fields of `context` (a span's, to store work under it); nil when it carries no trace.
    public init?(of context: InstrumentationContext?) {
        guard let context else { return nil }
        var fields: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &fields, using: FieldsInjector())
        guard !fields.isEmpty else { return nil }
        self.init(fields: fields)
    }

    /// The context to continue the stored trace in.
    public var instrumentationContext: InstrumentationContext {
        var context = InstrumentationContext.topLevel
        InstrumentationSystem.instrument.extract(fields, into: &context, using: FieldsExtractor())
        return context
    }
}

extension Optional where Wrapped == TraceContext {
    /// The context a worker continues the stored trace in: the stored one, else a new trace.
    public var instrumentationContext: InstrumentationContext {
        self?.instrumentationContext ?? .topLevel
    }
}

private struct FieldsInjector: Injector {
    func inject(_ value: String, forKey key: String, into fields: inout [String: String]) {
        fields[key] = value
    }
}

private struct FieldsExtractor: Extractor {
    func extract(key: String, from fields: [String: String]) -> String? {
        fields[key]
    }
}
