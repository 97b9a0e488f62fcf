import FlexCore
import Foundation
import Testing

@Suite("Access model: roles, connection scopes, key shape")
struct AccessModelTests {
    @Test("each role's permissions, as the issue sets them out")
    func roles() {
        #expect(Role.admin.permissions == Set(Permission.allCases))
        #expect(Role.operator.permissions == [.read, .changeSettings, .writeStock, .workOrders])
        #expect(Role.wms.permissions == [.read, .writeStock, .workOrders, .manageWebhooks])
        #expect(Role.read.permissions == [.read])
        for role in Role.allCases { #expect(role.permissions.contains(.read), "every role reads") }
        #expect(Role.allCases.filter { $0.permissions.contains(.manageAccess) } == [.admin])
    }

    @Test("a scope covers another only if it reaches every connection the other does")
    func scopes() {
        let a: ConnectionID = "A"
        let b: ConnectionID = "B"
        #expect(ConnectionScope.all.covers(.all) && ConnectionScope.all.covers(.only([a])))
        #expect(!ConnectionScope.only([a]).covers(.all))
        #expect(ConnectionScope.only([a, b]).covers(.only([a])))
        #expect(!ConnectionScope.only([a]).covers(.only([a, b])))
        #expect(ConnectionScope.only([a]).covers(.only([])))
        let principal = Principal(kind: .apiKey, id: "k", name: "wms", account: .default, role: .wms, scope: .only([a]))
        #expect(principal.sees(a) && !principal.sees(b))
        #expect(principal.may(.workOrders) && !principal.may(.changeSettings))
        #expect(principal.actor == "key wms" && Principal.node().actor == "node")
    }

    @Test("a key's shape: fbk_, 8 lowercase hex characters, _, 43 base64url characters")
    func keyShape() {
        let secret = "fbk_0a1b2c3d_" + String(repeating: "Az09-_", count: 7) + "x"
        #expect(APIKey.prefix(of: secret) == "fbk_0a1b2c3d")
        for bad in [
            "", "fbk_", "fbk_0a1b2c3d", "fbk_0A1B2C3D_" + String(repeating: "a", count: 43),
            "fbk_0a1b2c3_" + String(repeating: "a", count: 43), "fbk_0a1b2c3d_" + String(repeating: "a", count: 42),
            "fbk_0a1b2c3d_" + String(repeating: "a", count: 42) + "=",
            "xyz_0a1b2c3d_" + String(repeating: "a", count: 43),
            "fbk_0a1b2c3d_" + String(repeating: "a", count: 42) + "é",
        ] {
            #expect(APIKey.prefix(of: bad) == nil, "\(bad)")
        }
    }

    @Test("a webhook delivers the events of its connections, and those of none")
    func webhookScope() {
        let a: ConnectionID = "A"
        let hook = Webhook(
            id: "wh",
            scope: .only([a]),
            url: URL(string: "https://example.com")!,
            eventTypes: ["order.*"],
            position: 0,
            attempts: 0,
            nextAttemptAt: Date(),
            lastStatus: nil,
            lastError: nil,
            lastDeliveredAt: nil,
            createdAt: Date()
        )
        func event(_ type: String, _ connection: ConnectionID?) -> OutboxEvent {
            OutboxEvent(
                sequence: 1,
                id: UUID(),
                type: type,
                connectionID: connection,
                subject: nil,
                payload: "{}",
                createdAt: Date()
            )
        }
        #expect(hook.wants(event("order.created", a)))
        #expect(!hook.wants(event("order.created", "B")))
        #expect(!hook.wants(event("stock.changed", a)))
        #expect(hook.wants(event("order.created", nil)))
    }
}

@Suite("What a connection test makes of the connection's status")
struct ConnectionTestStatusTests {
    @Test(
        "a refused refresh token needs consent again; a passing test reactivates; anything else leaves it",
        arguments: [
            (true, false, Connection.Status.active, Connection.Status?.some(.needsReauthorization)),
            (true, false, .needsReauthorization, nil),
            (false, true, .needsReauthorization, .active),
            (false, true, .active, nil),
            (false, false, .needsReauthorization, nil),
            (false, true, .pendingAuthorization, nil),
        ]
    )
    func status(refused: Bool, passes: Bool, from: Connection.Status, to: Connection.Status?) {
        let report = ConnectionCheckReport(
            checks: [.init(name: "authorization", ok: passes, message: "")],
            needsReauthorization: refused
        )
        #expect(report.newStatus(from: from) == to)
    }
}
