import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The panel's manifests (build from labelled orders, print, hand over) and returns (list, receive with grades).
extension Panel {
    func registerShipping(on router: Router<BasicRequestContext>) {
        router.get("manifests") { request, _ in try await signedIn(request) { try await manifestsPage($0) } }
        postForm("manifests", on: router) { signed, form, _ in
            return try await buildManifest(form, signed)
        }
        router.get("manifests/{id}/pdf") { request, context in
            let id = try context.parameters.require("id")
            return try await signedIn(request) { signed in
                guard let manifest = try await visibleManifest(id, signed) else {
                    return notFound(signed, what: "manifest \(id)")
                }
                var headers = Self.securityHeaders
                headers[.contentType] = "application/pdf"
                headers[.contentDisposition] = "inline; filename=\"\(manifest.id).pdf\""
                return Response(
                    status: .ok,
                    headers: headers,
                    body: .init(byteBuffer: ByteBuffer(bytes: manifest.pdf()))
                )
            }
        }
        postForm("manifests/{id}/handover", on: router, needs: .workOrders) { signed, form, parameters in
            let id = try parameters.require("id")
            guard try await visibleManifest(id, signed) != nil else {
                return notFound(signed, what: "manifest \(id)")
            }
            _ = try await ManifestUseCases(store: store).handOver(ManifestID(rawValue: id), by: signed.principal)
            return Self.redirect(to: "/manifests")
        }
        router.get("returns") { request, _ in try await signedIn(request) { try await returnsPage(request, $0) } }
        router.get("returns/{id}") { request, context in
            let id = try context.parameters.require("id")
            return try await signedIn(request) { try await returnPage(id, $0) }
        }
        postForm("returns/{id}/receive", on: router) { signed, form, parameters in
            let id = try parameters.require("id")
            return try await receive(id, form, signed)
        }
    }

    func forbidden(_ signed: Signed) -> Response {
        render(
            "message",
            [
                "heading": "Not allowed",
                "text": "Your role (\(signed.principal.role.rawValue)) may not do this; nothing was done.",
                "link": "/", "linkText": "Back to the dashboard",
            ],
            title: "Not allowed",
            operator: signed,
            status: .forbidden
        )
    }

    // MARK: Manifests

    func visibleManifest(_ id: String, _ signed: Signed) async throws -> Manifest? {
        guard let manifest = try await store.read({ try await $0.manifest(ManifestID(rawValue: id)) }),
            try await visibleConnections(signed).contains(where: { $0.id == manifest.connectionID })
        else { return nil }
        return manifest
    }

    func manifestsPage(
        _ signed: Signed,
        error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws
        -> Response
    {
        let connections = try await visibleConnections(signed)
        let names = Dictionary(connections.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let (ready, manifests) = try await store.read { session in
            (
                try await session.labelledOrderCounts(within: connections.map(\.id)),
                try await session.manifests(connectionID: nil, within: connections.map(\.id), limit: 50)
            )
        }
        let canWork = signed.principal.may(.workOrders)
        let values: [String: Any] = [
            "canWork": canWork, "hasReady": !ready.isEmpty,
            "ready": ready.map { group -> [String: Any] in
                [
                    "connection": names[group.connectionID] ?? "", "connectionId": group.connectionID.rawValue,
                    "locationId": group.locationID.rawValue, "count": group.count, "csrf": signed.session.csrf,
                    "key": "panel:\(UUID().uuidString.lowercased())",
                ]
            },
            "manifests": manifests.map { manifest -> [String: Any] in
                [
                    "id": manifest.id.rawValue, "carrier": manifest.carrierName,
                    "locationId": manifest.locationID.rawValue, "orders": manifest.entries.count,
                    "status": manifest.status.rawValue, "createdAt": Self.time(manifest.createdAt),
                    "createdBy": manifest.createdBy ?? "", "canHandOver": canWork && manifest.status == .open,
                    "csrf": signed.session.csrf,
                ]
            },
        ]
        return render(
            "manifests",
            values,
            title: "Manifests",
            operator: signed,
            error: error,
            status: status,
            live: "orders"
        )
    }

    func buildManifest(_ form: [String: String], _ signed: Signed) async throws -> Response {
        guard signed.principal.may(.workOrders) else { return forbidden(signed) }
        let connections = try await visibleConnections(signed)
        guard let connection = connections.first(where: { $0.id.rawValue == form["connectionId"] }),
            let location = form["locationId"], !location.isEmpty
        else { return try await manifestsPage(signed, error: "Choose a location to build from.", status: .badRequest) }
        do {
            _ = try await ManifestUseCases(store: store).create(
                connectionID: connection.id,
                locationID: LocationID(rawValue: location),
                carrierName: nil,
                shipmentIDs: nil,
                idempotencyKey: form["key"].flatMap { $0.isEmpty || $0.count > 200 ? nil : $0 },
                by: signed.principal
            )
        } catch let error as StoreError where error.code == .conflict || error.code == .invalidInput {
            return try await manifestsPage(signed, error: error.message, status: .conflict)
        } catch let error as ValidationError {
            return try await manifestsPage(signed, error: "\(error.field) \(error.reason)", status: .badRequest)
        }
        return Self.redirect(to: "/manifests")
    }

    // MARK: Returns

    func returnsPage(_ request: Request, _ signed: Signed) async throws -> Response {
        let query = request.uri.queryParameters
        let status = query.get("status").flatMap { ReturnStatus(rawValue: $0) }
        let connections = try await visibleConnections(signed)
        let limit = 100
        let found = try await store.read {
            try await $0.returns(
                ReturnFilter(within: connections.map(\.id), status: status?.rawValue, after: query.get("after")),
                limit: limit + 1
            )
        }
        let page = found.prefix(limit)
        let values: [String: Any] = [
            "all": status == nil,
            "statuses": [ReturnStatus.created, .inTransit, .outForDelivery, .delivered, .cancelled].map {
                ["status": $0.rawValue, "current": $0 == status] as [String: Any]
            },
            "returns": page.map { item -> [String: Any] in
                [
                    "id": item.id.rawValue, "shipmentId": item.facts.shipmentID?.rawValue ?? false,
                    "rmaId": item.facts.rmaID ?? "", "sku": item.facts.merchantSKU.rawValue,
                    "units": item.facts.units, "type": item.facts.returnType, "status": item.facts.status,
                    "received": item.receipt.map { Self.time($0.receivedAt) } ?? "",
                ]
            },
            "next": found.count > limit ? Self.queryValue(page.last?.id.rawValue ?? "") : false,
            "statusQuery": status.map { "status=\($0.rawValue)&" } ?? "",
        ]
        return render("returns", values, title: "Returns", operator: signed, live: "returns")
    }

    func visibleReturn(_ id: String, _ signed: Signed) async throws -> Return? {
        guard let found = try await store.read({ try await $0.returnRecord(ReturnID(rawValue: id)) }),
            try await visibleConnections(signed).contains(where: { $0.id == found.connectionID })
        else { return nil }
        return found
    }

    static let gradeLabels: [(ReturnGrade, String)] = [
        (.sellable, "Sellable"), (.defective, "Defective"), (.customerDamaged, "Damaged by the customer"),
        (.carrierDamaged, "Damaged by the carrier"), (.wrongItem, "Wrong item"), (.missing, "Missing"),
    ]

    func returnPage(
        _ id: String,
        _ signed: Signed,
        entered: [String: String] = [:],
        fieldError: String? = nil,
        error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        guard let item = try await visibleReturn(id, signed) else { return notFound(signed, what: "return \(id)") }
        let history = try await store.read { try await $0.returnHistory(item.id, connectionID: item.connectionID) }
        let facts = item.facts
        let canReceive =
            signed.principal.may(.workOrders)
            && ReturnMachine.refusal(toReceive: facts.status, receipt: item.receipt)
                == nil
        var values: [String: Any] = [
            "id": facts.id.rawValue, "status": facts.status, "shipmentId": facts.shipmentID?.rawValue ?? false,
            "rmaId": facts.rmaID ?? "", "sku": facts.merchantSKU.rawValue, "units": facts.units,
            "type": facts.returnType, "subType": facts.returnSubType ?? "", "reason": facts.reason,
            "locationId": facts.returnLocationID.rawValue,
            "tracking": facts.reverseTracking.map { "\($0.carrierName ?? "") \($0.trackingID)" } ?? "",
            "otp": facts.otp ?? false, "canReceive": canReceive, "csrf": signed.session.csrf,
            "key": "panel:\(UUID().uuidString.lowercased())",
            "grades": Self.gradeLabels.map { grade, label in
                [
                    "grade": grade.rawValue, "label": label, "units": facts.units,
                    "value": entered["grade.\(grade.rawValue)"] ?? (grade == .sellable ? "\(facts.units)" : "0"),
                ] as [String: Any]
            },
            "history": history.map { ["status": $0.status, "at": Self.time($0.amazonUpdatedAt)] },
        ]
        if let fieldError { values["fieldError"] = fieldError }
        if let receipt = item.receipt {
            values["receipt"] =
                [
                    "receivedAt": Self.time(receipt.receivedAt), "receivedBy": receipt.receivedBy,
                    "items": receipt.items.map { "\($0.quantity) \($0.grade.rawValue)" }.joined(separator: ", "),
                    "restocked": receipt.restockedHub.map { "\(receipt.restockedUnits) back on sale at \($0)" }
                        ?? false,
                ] as [String: Any]
        }
        return render(
            "return",
            values,
            title: "Return \(facts.id)",
            operator: signed,
            error: error,
            status: status,
            live: "return:\(facts.id)"
        )
    }

    func receive(_ id: String, _ form: [String: String], _ signed: Signed) async throws -> Response {
        guard signed.principal.may(.workOrders) else { return forbidden(signed) }
        guard let item = try await visibleReturn(id, signed) else { return notFound(signed, what: "return \(id)") }
        var items: [ReturnReceipt.Item] = []
        for (grade, label) in Self.gradeLabels {
            let text = form["grade.\(grade.rawValue)"]?.trimmingCharacters(in: .whitespaces) ?? ""
            guard !text.isEmpty else { continue }
            guard let quantity = Int(text), quantity >= 0, quantity <= StockLevel.maximumQuantity else {
                return try await returnPage(
                    id,
                    signed,
                    entered: form,
                    fieldError: "\(label): give a whole number of units, 0 or more.",
                    status: .badRequest
                )
            }
            if quantity > 0 { items.append(.init(grade: grade, quantity: quantity)) }
        }
        do {
            _ = try await ReturnUseCases(store: store).receive(
                item.id,
                of: item.connectionID,
                .init(items: items, restock: form["restock"] == "on"),
                idempotencyKey: form["key"].flatMap { $0.isEmpty || $0.count > 200 ? nil : $0 }
                    ?? "panel:\(UUID().uuidString)",
                by: signed.principal
            )
        } catch let error as ValidationError {
            return try await returnPage(
                id,
                signed,
                entered: form,
                fieldError: "The grades \(error.reason).",
                status: .badRequest
            )
        } catch let refusal as ReturnUseCases.Refusal {
            return try await returnPage(id, signed, entered: form, error: refusal.description, status: .conflict)
        }
        return Self.redirect(to: "/returns/\(id)")
    }
}
