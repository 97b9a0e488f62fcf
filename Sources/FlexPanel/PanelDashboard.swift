import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Hummingbird

/// The dashboard: per connection, the sync's health at a glance — stock waiting and failed, SKUs a second against
/// Amazon's bound, the last push, Amazon's 429s, the last order poll and notification, orders by state and at risk,
/// failed commands, a seller to authorise again — with charts of the last hour drawn as SVG on the server.
extension Panel {
    /// An open order is at risk when it is due to ship within this time, late, or stuck on a failed command.
    static let riskWindow: TimeInterval = FulfilmentState.atRiskHours * 3600

    func dashboard(_ signed: Signed) async throws -> Response {
        let connections = try await visibleConnections(signed)
        // This node's counts of the last seconds first, so that what it just did shows.
        try? await store.flushActivity()
        let now = store.clock.now()
        let current = SyncMinute.minute(of: now)
        let since = current - 59
        let ids = connections.map(\.id)
        let (counts, activity, last, health) = try await store.read { session in
            (
                try await session.orderCounts(within: ids),
                try await session.activity(within: ids, since: since),
                try await session.lastActivity(within: ids),
                try await session.syncHealth(within: ids, now: now, riskWindow: Self.riskWindow, since: since)
            )
        }
        let values: [[String: Any]] = connections.map { connection in
            let minutes = Dictionary(
                (activity[connection.id] ?? []).map { ($0.minute, $0) },
                uniquingKeysWith: { first, _ in first }
            )
            let hour = (since...current).map { minutes[$0] ?? SyncMinute(minute: $0) }
            let health = health[connection.id] ?? SyncHealth()
            let seen = (since...current).map { health.ordersSeen[$0] ?? 0 }
            let busiest = hour.map(\.skusSent).max() ?? 0
            let lastMinute = hour.dropLast().last?.skusSent ?? 0
            let times = last[connection.id]
            return [
                "id": connection.id.rawValue, "name": connection.name,
                "sellingPartnerId": connection.sellingPartnerID.rawValue, "region": connection.region.rawValue,
                "status": connection.status.rawValue,
                "needsAuthorization": connection.status == .needsReauthorization,
                "states": Self.stateLabels.map { state, label in
                    [
                        "state": state.rawValue, "label": label, "connectionId": connection.id.rawValue,
                        "count": counts[connection.id]?[state] ?? 0,
                    ] as [String: Any]
                },
                "backlog": health.stockBacklog, "items": health.stockItems, "stockFailed": health.stockFailed,
                "hasStockFailed": health.stockFailed > 0,
                "rate": Self.rate(Double(lastMinute) / 60), "busiest": Self.rate(Double(busiest) / 60),
                "bound": Self.rate(stockBound),
                "lastPush": Self.ago(times?.push, now), "lastPoll": Self.ago(times?.poll, now),
                "lastNotification": Self.ago(times?.notification, now),
                "throttled": hour.map(\.throttled).reduce(0, +), "calls": hour.map(\.amazonCalls).reduce(0, +),
                "errors": hour.map(\.amazonErrors).reduce(0, +),
                "atRisk": health.ordersAtRisk, "hasAtRisk": health.ordersAtRisk > 0,
                "commandsFailed": health.commandsFailed, "hasCommandsFailed": health.commandsFailed > 0,
                "stockChart": Chart.bars(
                    hour.map { Double($0.skusSent) },
                    label: "SKUs sent to Amazon per minute, the last hour"
                ),
                "ordersChart": Chart.bars(seen.map(Double.init), label: "Orders in per minute, the last hour"),
                "callsChart": Chart.bars(
                    hour.map { Double($0.amazonCalls) },
                    highlighted: hour.map { Double($0.throttled) },
                    label: "Calls to Amazon per minute, 429s in red, the last hour"
                ),
            ]
        }
        return render("dashboard", ["connections": values], title: "Dashboard", operator: signed, live: "dashboard")
    }

    static func rate(_ perSecond: Double) -> String {
        switch perSecond {
        case 10...: String(Int(perSecond.rounded()))
        case 1..<10: perSecond.formatted(.number.precision(.fractionLength(1)))
        case ..<0.005: "0"
        default: perSecond.formatted(.number.precision(.fractionLength(2)))
        }
    }

    /// "12 s ago", "4 min ago", "3 h ago", or "never".
    static func ago(_ date: Date?, _ now: Date) -> String {
        guard let date else { return "never" }
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        switch seconds {
        case ..<60: return "\(seconds) s ago"
        case ..<3600: return "\(seconds / 60) min ago"
        case ..<172_800: return "\(seconds / 3600) h ago"
        default: return time(date)
        }
    }
}

/// Small bar charts as SVG, drawn on the server: numbers only, no text from the data, so nothing needs escaping
/// and nothing runs in the browser.
enum Chart {
    static let width = 300
    static let height = 64

    /// One bar per value, scaled to the largest; `highlighted` draws part of each bar red (429s of the calls).
    static func bars(_ values: [Double], highlighted: [Double]? = nil, label: String) -> String {
        let peak = max(values.max() ?? 0, 1)
        let step = Double(width) / Double(max(values.count, 1))
        let chartHeight = Double(height - 14)
        var svg = """
            <svg class="chart" viewBox="0 0 \(width) \(height)" width="\(width)" height="\(height)" role="img" \
            aria-label="\(label)"><rect x="0" y="0" width="\(width)" height="\(height - 14)" fill="#f3f5f7"/>
            """
        func bar(_ index: Int, _ value: Double, _ color: String) -> String {
            let h = value / peak * chartHeight
            return String(
                format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"/>",
                Double(index) * step,
                chartHeight - h,
                max(step - 1, 0.5),
                h,
                color
            )
        }
        for (index, value) in values.enumerated() where value > 0 {
            svg += bar(index, value, "#2f6fae")
            if let red = highlighted?[index], red > 0 { svg += bar(index, min(red, value), "#c62828") }
        }
        svg += """
            <text x="0" y="\(height - 2)" font-size="10" fill="#555">−60 min</text>\
            <text x="\(width)" y="\(height - 2)" font-size="10" fill="#555" text-anchor="end">now · peak \(Int(peak))</text></svg>
            """
        return svg
    }
}
