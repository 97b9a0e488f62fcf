import Foundation

/// Failures the simulator injects into one operation (or every operation), as an unreliable Amazon would fail.
public struct FaultSettings: Sendable, Hashable, Codable {
    /// Share of requests answered 500 InternalFailure, from 0 to 1.
    public var internalErrorRate: Double
    /// Share of requests answered 503 ServiceUnavailable.
    public var unavailableRate: Double
    /// Share of requests whose connection is closed without an answer, after the request was applied: the case that
    /// forces a client to re-read before it retries a state change.
    public var dropAfterApplyRate: Double
    /// Added latency per request, in milliseconds.
    public var latencyMilliseconds: Int

    public init(
        internalErrorRate: Double = 0,
        unavailableRate: Double = 0,
        dropAfterApplyRate: Double = 0,
        latencyMilliseconds: Int = 0
    ) {
        self.internalErrorRate = internalErrorRate
        self.unavailableRate = unavailableRate
        self.dropAfterApplyRate = dropAfterApplyRate
        self.latencyMilliseconds = latencyMilliseconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        internalErrorRate = try container.decodeIfPresent(Double.self, forKey: .internalErrorRate) ?? 0
        unavailableRate = try container.decodeIfPresent(Double.self, forKey: .unavailableRate) ?? 0
        dropAfterApplyRate = try container.decodeIfPresent(Double.self, forKey: .dropAfterApplyRate) ?? 0
        latencyMilliseconds = try container.decodeIfPresent(Int.self, forKey: .latencyMilliseconds) ?? 0
    }

    /// Checks that rates are shares and latency is not negative, naming the field at fault.
    func validate() throws(ControlError) {
        for (name, rate) in [
            ("internalErrorRate", internalErrorRate), ("unavailableRate", unavailableRate),
            ("dropAfterApplyRate", dropAfterApplyRate),
        ]
        where !(0...1).contains(rate) {
            throw ControlError("\(name) must be between 0 and 1, got \(rate)")
        }
        if internalErrorRate + unavailableRate > 1 {
            throw ControlError("internalErrorRate + unavailableRate must be at most 1")
        }
        if latencyMilliseconds < 0 || latencyMilliseconds > 60_000 {
            throw ControlError("latencyMilliseconds must be between 0 and 60000, got \(latencyMilliseconds)")
        }
    }

    /// What to do with one request, drawn at random by the rates.
    func draw(using generator: inout some RandomNumberGenerator) -> FaultDecision {
        let roll = Double.random(in: 0..<1, using: &generator)
        if roll < internalErrorRate { return .internalError }
        if roll < internalErrorRate + unavailableRate { return .unavailable }
        if dropAfterApplyRate > 0, Double.random(in: 0..<1, using: &generator) < dropAfterApplyRate {
            return .dropAfterApply
        }
        return .none
    }
}

enum FaultDecision: Sendable {
    case none, internalError, unavailable, dropAfterApply
}

/// A request on the control path that the simulator refuses, with the reason.
public struct ControlError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// 404 for an unknown id, 400 for anything else.
    public var notFound: Bool
    public init(_ message: String, notFound: Bool = false) {
        self.message = message
        self.notFound = notFound
    }
    public var description: String { message }
}

/// One request the simulator received, for the ground-truth log.
public struct RecordedRequest: Sendable, Codable, Hashable {
    public var sequence: Int
    public var requestID: String
    public var time: Date
    public var operation: String
    public var method: String
    public var path: String
    public var merchantID: String?
    /// The client's `User-Agent`, which Amazon requires.
    public var userAgent: String?
    public var status: Int
    /// The injected fault, if any: `internalError`, `unavailable`, `dropAfterApply`, `throttled`.
    public var fault: String?
    /// The request body as received, for state-changing operations.
    public var body: String?
}
