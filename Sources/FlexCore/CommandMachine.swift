import Foundation

/// How a command attempt ended, as the fulfilment worker reports it.
public enum CommandOutcome: Sendable, Hashable {
    /// Done at Amazon (or found done there); `result` is JSON for the WMS.
    case succeeded(result: String?)
    /// Amazon refused it, or it cannot be carried out: the order keeps the error and the WMS hears of it.
    case failed(code: String, message: String)
    /// Amazon could not be reached or failed; tried again at `at`, after reading Amazon's state.
    case retry(at: Date, message: String)
    /// The order was cancelled at Amazon before the command could run.
    case cancelled(message: String)
}

extension CommandOutcome {
    /// The outcome's name, as traces and logs say it.
    public var name: String {
        switch self {
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .retry: "retry"
        case .cancelled: "cancelled"
        }
    }
}

/// The rules for a command's attempt that ended: what becomes of the command, of its order's error, of the commands
/// queued after it, and what the WMS is told. Pure; the store carries the decision out.
public enum CommandMachine {
    public struct Finish: Sendable, Hashable {
        /// What the order shows of the failed command.
        public enum OrderError: Sendable, Hashable {
            case keep
            /// A command succeeded: the error of an earlier one no longer stands.
            case clear
            case set(code: String, message: String)
        }

        /// Commands queued after this one on the order fail too, saying why.
        public struct LaterCommands: Sendable, Hashable {
            public var code: String
            public var message: String
        }

        /// The command's status; `queued` again for a retry.
        public var status: CommandStatus
        /// For a retry: when the next attempt is due.
        public var retryAt: Date?
        public var errorCode: String?
        public var errorMessage: String?
        /// For a success: the result for the WMS, as JSON.
        public var result: String?
        public var orderError: OrderError
        public var failsLater: LaterCommands?
        public var event: EventType?
        /// The event's data; ``failsLater`` adds `skippedCommandIds` once they are failed.
        public var payload: [String: JSONValue]
    }

    public static func finish(_ command: FulfilmentCommand, _ outcome: CommandOutcome) -> Finish {
        var payload: [String: JSONValue] = [
            "shipmentId": .string(command.shipmentID.rawValue), "commandId": .string(command.id.rawValue),
            "command": .string(command.request.type.rawValue),
        ]
        switch outcome {
        case .retry(let at, let message):
            return Finish(
                status: .queued,
                retryAt: at,
                errorCode: nil,
                errorMessage: message,
                result: nil,
                orderError: .keep,
                failsLater: nil,
                event: nil,
                payload: [:]
            )
        case .succeeded(let result):
            if let result, let value = try? JSONDecoder().decode(JSONValue.self, from: Data(result.utf8)) {
                payload["result"] = value
            }
            return Finish(
                status: .succeeded,
                retryAt: nil,
                errorCode: nil,
                errorMessage: nil,
                result: result,
                orderError: .clear,
                failsLater: nil,
                event: .commandSucceeded,
                payload: payload
            )
        case .failed(let code, let message):
            payload["code"] = .string(code)
            payload["message"] = .string(message)
            return Finish(
                status: .failed,
                retryAt: nil,
                errorCode: code,
                errorMessage: message,
                result: nil,
                orderError: .set(code: code, message: message),
                // What was asked after it depended on it: it fails too, and says why.
                failsLater: Finish.LaterCommands(
                    code: "earlier_command_failed",
                    message: "Not run: command \(command.id) (\(command.request.type.rawValue)) before it failed."
                ),
                event: .commandFailed,
                payload: payload
            )
        case .cancelled(let message):
            return Finish(
                status: .cancelled,
                retryAt: nil,
                errorCode: "order_cancelled",
                errorMessage: message,
                result: nil,
                orderError: .keep,
                failsLater: nil,
                event: nil,
                payload: [:]
            )
        }
    }
}
