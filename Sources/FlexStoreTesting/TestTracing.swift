import InMemoryTracing
import Tracing

/// The test process's tracer: an in-memory one, bootstrapped the first time a test asks for it (a process bootstraps
/// once). Tests that run before keep the no-op tracer; those after are traced, and each test reads its own traces by
/// their ids.
public enum TestTracing {
    public static let tracer: InMemoryTracer = {
        let tracer = InMemoryTracer(recordInjections: false, recordExtractions: false)
        InstrumentationSystem.bootstrap(tracer)
        return tracer
    }()

    /// Runs `body` in a new root span, as a traced WMS request would; returns the trace's id with the body's value.
    public static func traced<Value>(
        _ name: String = "test",
        _ body: () async throws -> Value
    ) async throws -> (traceID: String, value: Value) {
        let span = tracer.startSpan(name, context: .topLevel)
        defer { span.end() }
        let value = try await InstrumentationContext.$current.withValue(span.context) { try await body() }
        return (span.traceID, value)
    }

    /// The finished spans of one trace, in the order they ended.
    public static func spans(of traceID: String) -> [FinishedInMemorySpan] {
        tracer.finishedSpans.filter { $0.traceID == traceID }
    }
}
