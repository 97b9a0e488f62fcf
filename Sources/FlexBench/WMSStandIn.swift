import AsyncHTTPClient
import FlexBridgeApp
import FlexCore
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// The WMS's part in the order benchmarks, step by step as a warehouse works: it reads the event feed, confirms each
/// order.created it handles; packs once the confirmation succeeded (Amazon's recommended box, or one box with serial
/// numbers where a line needs them), labels once packed, ships once labelled — each command sent when the event of
/// the one before arrives, 16 requests at a time.
struct WMSStandIn: Sendable {
    let api: BenchAPI

    /// Works from the event after `start` until cancelled or `finished` says so, given how many ship commands were
    /// sent; `handles` chooses the orders, `observe` is told every event of theirs (type, order id) as it is read.
    func run(
        after start: Int64,
        handles: @escaping @Sendable (String) -> Bool,
        observe: @escaping @Sendable (_ type: String, _ order: String) -> Void = { _, _ in },
        until finished: @escaping @Sendable (_ shipped: Int) -> Bool
    ) async throws {
        // The feed is read on while the commands go out, as a busy WMS does: a slow command holds up neither the
        // next page nor the moment an order is seen (what the fleet benchmark measures as notification → API).
        let (steps, queue) = AsyncStream.makeStream(of: (id: String, step: String).self)
        let shipped = ShipCount()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    for await step in steps {
                        try await send(step.step, to: step.id)
                        if step.step == "ship" { shipped.count.withLock { $0 += 1 } }
                    }
                }
            }
            group.addTask {
                defer { queue.finish() }
                try await read(after: start, handles: handles, observe: observe, into: queue) {
                    finished(shipped.count.withLock { $0 })
                }
            }
            // The first failure ends the run (the others are cancelled), as a sender gone would stall its orders.
            while try await group.next() != nil {}
        }
    }

    /// Reads the feed from the event after `start` until cancelled or `finished`, queueing each order's next step.
    private func read(
        after start: Int64,
        handles: @Sendable (String) -> Bool,
        observe: @Sendable (_ type: String, _ order: String) -> Void,
        into queue: AsyncStream<(id: String, step: String)>.Continuation,
        until finished: @Sendable () -> Bool
    ) async throws {
        let next = ["confirm": "pack", "pack": "label", "label": "ship"]
        var cursor = start
        while !Task.isCancelled, !finished() {
            let page = try await get("/events?after=\(cursor)&limit=1000")
            let events = (page["events"] as? [[String: Any]]) ?? []
            if let last = events.last?["sequence"] as? Int { cursor = Int64(last) }
            for event in events {
                guard let id = event["subject"] as? String, handles(id), let type = event["type"] as? String else {
                    continue
                }
                observe(type, id)
                switch type {
                case "order.created":
                    queue.yield((id, "confirm"))
                case "order.command_succeeded":
                    let data = event["data"] as? [String: Any]
                    if let done = data?["command"] as? String, let step = next[done] { queue.yield((id, step)) }
                default:
                    break
                }
            }
            if events.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
    }

    /// The sequence number of the feed's last event.
    func lastSequence() async throws -> Int64 {
        var cursor: Int64 = 0
        while true {
            let events = (try await get("/events?after=\(cursor)&limit=1000")["events"] as? [[String: Any]]) ?? []
            guard let last = events.last?["sequence"] as? Int else { return cursor }
            cursor = Int64(last)
        }
    }

    private func send(_ step: String, to id: String) async throws {
        var body = #"{"type":"\#(step)"}"#
        if step == "pack" {
            let detail = try await get("/orders/\(id)")
            let facts = try ShipmentFacts(json: detail["shipment"] as? String ?? "{}")
            if facts.lineItems.contains(where: { $0.complianceAttributes?.serialNumberRequirement == "REQUIRED" }),
                let box = facts.shippingInfo?.recommendedPackages?.first
            {
                let items = facts.lineItems.map { line in
                    let serials = (0..<line.numberOfUnits).map { #""SN-\#(id)-\#(line.shipmentLineItemId)-\#($0)""# }
                        .joined(separator: ",")
                    return
                        #"{"lineItemId":"\#(line.shipmentLineItemId)","quantity":\#(line.numberOfUnits),"serialNumbers":[\#(serials)]}"#
                }
                body = """
                    {"type":"pack","packages":[{"id":"BOX1","length":\(box.dimensions.length.value),"width":\(box.dimensions.width.value),\
                    "height":\(box.dimensions.height.value),"dimensionUnit":"\(box.dimensions.length.dimensionUnit)","weight":\(box.weight.value),\
                    "weightUnit":"\(box.weight.weightUnit)","items":[\(items.joined(separator: ","))]}]}
                    """
            }
        }
        var request = api.request("/orders/\(id)/commands")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: "\(id):\(step)")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.bench.execute(request, timeout: .seconds(30))
        guard response.status == .accepted || response.status == .ok else {
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            throw StartupError(message: "\(step) on \(id) answered \(response.status.code): \(text)")
        }
    }

    func get(_ path: String) async throws -> [String: Any] {
        let url = api.base + path
        let response = try await HTTPClient.bench.execute(api.request(path), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status == .ok,
            let object = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        else {
            throw StartupError(message: "GET \(url) answered \(response.status.code)")
        }
        return object
    }
}

/// The ship commands the WMS stand-in has sent, counted by its senders.
private final class ShipCount: Sendable {
    let count = Mutex(0)
}
