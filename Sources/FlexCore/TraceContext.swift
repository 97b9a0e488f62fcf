import Foundation

/// Where a piece of stored work was asked for in a trace: the propagation fields a tracer writes for a request it
/// traces (W3C's `traceparent` and `tracestate` for OpenTelemetry), kept with the work (a stock change, a command, a
/// notified shipment) so that the worker that later carries it to Amazon continues the same trace. Nil wherever
/// tracing is off.
public struct TraceContext: Sendable, Hashable {
    /// The fields as the tracer wrote them.
    public var fields: [String: String]

    public init(fields: [String: String]) {
        self.fields = fields
    }

    /// The fields as stored: a JSON object of strings, keys sorted.
    public var stored: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A dictionary of strings always encodes.
        return String(decoding: (try? encoder.encode(fields)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// Reads what ``stored`` wrote; nil for nil, and for text that is not a JSON object of strings (a context is only
    /// ever a hint: a damaged one starts a new trace instead of failing the work).
    public init?(stored: String?) {
        guard let stored, let data = stored.data(using: .utf8),
            let fields = try? JSONDecoder().decode([String: String].self, from: data), !fields.isEmpty
        else { return nil }
        self.fields = fields
    }
}
