import FlexCore
import Foundation
import Testing

@Suite("The command machine: what an attempt's end does")
struct CommandMachineTests {
    static let command = FulfilmentCommand(
        id: "CMD-1",
        connectionID: "C",
        shipmentID: "S-1",
        sequence: 4,
        idempotencyKey: "k",
        request: CommandRequest(type: .pack),
        status: .running,
        attempts: 1,
        errorCode: nil,
        errorMessage: nil,
        result: nil,
        createdAt: Date(timeIntervalSince1970: 0),
        updatedAt: Date(timeIntervalSince1970: 0)
    )

    @Test("a success clears the order's error and says so with the result")
    func succeeded() {
        let finish = CommandMachine.finish(Self.command, .succeeded(result: #"{"packageIds":["P-1"]}"#))
        #expect(finish.status == .succeeded && finish.orderError == .clear && finish.failsLater == nil)
        #expect(finish.event == .commandSucceeded)
        #expect(finish.payload["result"] == .object(["packageIds": .array([.string("P-1")])]))
        #expect(finish.payload["commandId"] == .string("CMD-1") && finish.payload["command"] == .string("pack"))
    }

    @Test("a failure sets the order's error, fails what was queued after it, and says so")
    func failed() throws {
        let finish = CommandMachine.finish(Self.command, .failed(code: "amazon_refused", message: "No."))
        #expect(finish.status == .failed && finish.errorCode == "amazon_refused")
        #expect(finish.orderError == .set(code: "amazon_refused", message: "No."))
        let later = try #require(finish.failsLater)
        #expect(later.code == "earlier_command_failed")
        #expect(later.message.contains("CMD-1") && later.message.contains("pack"))
        #expect(finish.event == .commandFailed && finish.payload["code"] == .string("amazon_refused"))
    }

    @Test("a retry puts the command back in the queue, silently; a cancellation closes it silently")
    func retryAndCancel() {
        let at = Date(timeIntervalSince1970: 60)
        let retry = CommandMachine.finish(Self.command, .retry(at: at, message: "Amazon answered 503."))
        #expect(retry.status == .queued && retry.retryAt == at && retry.errorMessage == "Amazon answered 503.")
        #expect(retry.event == nil && retry.orderError == .keep && retry.failsLater == nil)
        let cancelled = CommandMachine.finish(Self.command, .cancelled(message: "Cancelled at Amazon."))
        #expect(cancelled.status == .cancelled && cancelled.errorCode == "order_cancelled")
        #expect(cancelled.event == nil && cancelled.orderError == .keep && cancelled.failsLater == nil)
    }
}
