import FlexBridgeAPI
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import OpenAPIRuntime

/// Fulfilment through the API: commands with idempotency keys, the files Amazon issued, orders at risk,
/// manifests and webhooks.
extension APIHandler {
    public func submitCommand(_ input: Operations.SubmitCommand.Input) async throws -> Operations.SubmitCommand.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        let key = input.headers.idempotencyKey.trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty, key.count <= 200 else {
            return .badRequest(Self.problem(.invalidInput, "must be 1 to 200 characters", field: "Idempotency-Key"))
        }
        let request: CommandRequest
        do {
            request = try Self.commandRequest(body)
        } catch {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        }
        guard try await visibleOrder(input.path.shipmentId) != nil else {
            return .notFound(Self.orderNotFound(input.path.shipmentId))
        }
        do {
            let submitted = try await fulfilment.submitCommand(
                request,
                to: ShipmentID(rawValue: input.path.shipmentId),
                idempotencyKey: key,
                by: try caller()
            )
            return submitted.created
                ? .accepted(.init(body: .json(Self.schema(submitted.command))))
                : .ok(.init(body: .json(Self.schema(submitted.command))))
        } catch FulfilmentUseCases.Refusal.orderNotFound {
            return .notFound(Self.orderNotFound(input.path.shipmentId))
        } catch let refusal as FulfilmentUseCases.Refusal {
            return .conflict(.init(body: .json(Self.problemBody(.conflict, refusal.description))))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        } catch let error as StoreError where error.code == .conflict {
            return .conflict(.init(body: .json(Self.problemBody(.conflict, error.message))))
        }
    }

    public func listCommands(_ input: Operations.ListCommands.Input) async throws -> Operations.ListCommands.Output {
        guard let order = try await visibleOrder(input.path.shipmentId) else {
            return .notFound(Self.orderNotFound(input.path.shipmentId))
        }
        let commands = try await store.read {
            try await $0.commands(shipmentID: order.shipmentID, connectionID: order.connectionID)
        }
        return .ok(.init(body: .json(.init(commands: commands.map(Self.schema)))))
    }

    public func getCommand(_ input: Operations.GetCommand.Input) async throws -> Operations.GetCommand.Output {
        let principal = try caller()
        guard
            let command = try await store.read({ session -> FulfilmentCommand? in
                guard let command = try await session.command(CommandID(rawValue: input.path.commandId)),
                    try await Self.sees(command.connectionID, principal, in: session)
                else { return nil }
                return command
            })
        else {
            return .notFound(
                .init(body: .json(Self.problemBody(.notFound, "No command with id \(input.path.commandId).")))
            )
        }
        return .ok(.init(body: .json(Self.schema(command))))
    }

    public func listOrderDocuments(
        _ input: Operations.ListOrderDocuments.Input
    ) async throws -> Operations.ListOrderDocuments.Output {
        guard let order = try await visibleOrder(input.path.shipmentId) else {
            return .notFound(Self.orderNotFound(input.path.shipmentId))
        }
        let documents = try await store.read {
            try await $0.documents(shipmentID: order.shipmentID, connectionID: order.connectionID)
        }
        return .ok(.init(body: .json(.init(documents: documents.map(Self.schema)))))
    }

    public func downloadDocument(
        _ input: Operations.DownloadDocument.Input
    ) async throws -> Operations.DownloadDocument.Output {
        let principal = try caller()
        guard
            let document = try await store.read({ session -> StoredDocument? in
                guard let document = try await session.document(DocumentID(rawValue: input.path.documentId)),
                    try await Self.sees(document.connectionID, principal, in: session)
                else { return nil }
                return document
            })
        else {
            return .notFound(
                .init(body: .json(Self.problemBody(.notFound, "No document with id \(input.path.documentId).")))
            )
        }
        let body = HTTPBody(document.data)
        switch document.contentType {
        case "application/pdf": return .ok(.init(body: .pdf(body)))
        case "image/png": return .ok(.init(body: .png(body)))
        case let type where type.contains("zpl") || type.hasPrefix("text/"):
            return .ok(.init(body: .plainText(body)))
        default: return .ok(.init(body: .binary(body)))
        }
    }

    public func ordersAtRisk(_ input: Operations.OrdersAtRisk.Input) async throws -> Operations.OrdersAtRisk.Output {
        let now = store.clock.now()
        let hours = input.query.withinHours ?? FulfilmentState.atRiskHours
        let within = try await listed(input.query.connectionId)
        let orders = try await store.read {
            try await $0.ordersAtRisk(
                connectionID: nil,
                within: within,
                before: now.addingTimeInterval(hours * 3600),
                limit: input.query.limit ?? 200
            )
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        generatedAt: now,
                        orders: orders.map { order in
                            var reasons:
                                [Operations.OrdersAtRisk.Output.Ok.Body.JsonPayload.OrdersPayloadPayload
                                    .ReasonsPayloadPayload] = []
                            let left = order.expectedShipAt.map { $0.timeIntervalSince(now) / 3600 }
                            if let left, left < 0 {
                                reasons.append(.late)
                            } else if let left, left <= hours {
                                reasons.append(.dueSoon)
                            }
                            if order.error != nil { reasons.append(.commandFailed) }
                            return .init(order: Self.schema(order), reasons: reasons, hoursLeft: left)
                        }
                    )
                )
            )
        )
    }

    // MARK: Manifests

    public func createManifest(
        _ input: Operations.CreateManifest.Input
    ) async throws -> Operations.CreateManifest.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        let connectionID = ConnectionID(rawValue: body.connectionId)
        guard try await visible(connectionID) != nil else {
            return .notFound(Self.notFound(body.connectionId))
        }
        let key = input.headers.idempotencyKey?.trimmingCharacters(in: .whitespaces)
        if let key, key.isEmpty || key.count > 200 {
            return .badRequest(
                Self.problem(.invalidInput, "must be 1 to 200 characters when given", field: "Idempotency-Key")
            )
        }
        do {
            let (manifest, created) = try await manifests.create(
                connectionID: connectionID,
                locationID: LocationID(rawValue: body.locationId),
                carrierName: body.carrierName,
                shipmentIDs: body.shipmentIds?.map(ShipmentID.init(rawValue:)),
                idempotencyKey: key,
                by: try caller()
            )
            return created
                ? .created(.init(body: .json(Self.schema(manifest)))) : .ok(.init(body: .json(Self.schema(manifest))))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        } catch let error as StoreError where error.code == .conflict {
            return .conflict(.init(body: .json(Self.problemBody(.conflict, error.message))))
        }
    }

    public func listManifests(_ input: Operations.ListManifests.Input) async throws -> Operations.ListManifests.Output {
        let limit = input.query.limit ?? 50
        let within = try await listed(input.query.connectionId)
        do {
            let manifests = try await store.read {
                try await $0.manifests(
                    connectionID: nil,
                    within: within,
                    locationID: input.query.locationId.map(LocationID.init(rawValue:)),
                    status: input.query.status.flatMap { Manifest.Status(rawValue: $0.rawValue) },
                    before: input.query.before.map(ManifestID.init(rawValue:)),
                    limit: limit + 1
                )
            }
            let page = Array(manifests.prefix(limit))
            return .ok(
                .init(
                    body: .json(
                        .init(
                            manifests: page.map(Self.schema),
                            next: manifests.count > limit ? page.last?.id.rawValue : nil
                        )
                    )
                )
            )
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        }
    }

    public func getManifest(_ input: Operations.GetManifest.Input) async throws -> Operations.GetManifest.Output {
        guard let manifest = try await visibleManifest(input.path.manifestId) else {
            return .notFound(Self.manifestNotFound(input.path.manifestId))
        }
        return .ok(.init(body: .json(Self.schema(manifest))))
    }

    public func getManifestPDF(
        _ input: Operations.GetManifestPDF.Input
    ) async throws -> Operations.GetManifestPDF.Output {
        guard let manifest = try await visibleManifest(input.path.manifestId) else {
            return .notFound(Self.manifestNotFound(input.path.manifestId))
        }
        return .ok(.init(body: .pdf(HTTPBody(manifest.pdf()))))
    }

    public func handOverManifest(
        _ input: Operations.HandOverManifest.Input
    ) async throws -> Operations.HandOverManifest.Output {
        guard try await visibleManifest(input.path.manifestId) != nil else {
            return .notFound(Self.manifestNotFound(input.path.manifestId))
        }
        do {
            let manifest = try await manifests.handOver(
                ManifestID(rawValue: input.path.manifestId),
                by: try caller()
            )
            return .accepted(.init(body: .json(Self.schema(manifest))))
        } catch let error as StoreError where error.code == .notFound {
            return .notFound(Self.manifestNotFound(input.path.manifestId))
        }
    }

    // MARK: Webhooks

    public func createWebhook(_ input: Operations.CreateWebhook.Input) async throws -> Operations.CreateWebhook.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        do {
            let (webhook, secret) = try await webhooks.create(
                url: body.url,
                secret: body.secret,
                eventTypes: body.eventTypes ?? [],
                fromStart: body.fromStart ?? false,
                by: try caller()
            )
            var answer = Self.schema(webhook)
            answer.secret = secret
            return .created(.init(body: .json(answer)))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        }
    }

    public func listWebhooks(_ input: Operations.ListWebhooks.Input) async throws -> Operations.ListWebhooks.Output {
        .ok(.init(body: .json(.init(webhooks: try await webhooks.webhooks(by: try caller()).map(Self.schema)))))
    }

    public func deleteWebhook(_ input: Operations.DeleteWebhook.Input) async throws -> Operations.DeleteWebhook.Output {
        guard try await webhooks.delete(input.path.webhookId, by: try caller()) else {
            return .notFound(
                .init(body: .json(Self.problemBody(.notFound, "No webhook with id \(input.path.webhookId).")))
            )
        }
        return .noContent(.init())
    }

    public func retryWebhook(_ input: Operations.RetryWebhook.Input) async throws -> Operations.RetryWebhook.Output {
        guard let webhook = try await webhooks.retryNow(input.path.webhookId, by: try caller()) else {
            return .notFound(
                .init(body: .json(Self.problemBody(.notFound, "No webhook with id \(input.path.webhookId).")))
            )
        }
        return .accepted(.init(body: .json(Self.schema(webhook))))
    }

    /// The manifest, when the caller may see its connection.
    func visibleManifest(_ id: String) async throws -> Manifest? {
        let principal = try caller()
        return try await store.read { session in
            guard let manifest = try await session.manifest(ManifestID(rawValue: id)),
                try await Self.sees(manifest.connectionID, principal, in: session)
            else { return nil }
            return manifest
        }
    }

    // MARK: Conversions

    static func commandRequest(_ body: Components.Schemas.CommandRequest) throws(ValidationError) -> CommandRequest {
        func decimal(_ value: Double, _ field: String) throws(ValidationError) -> Decimal {
            guard value.isFinite, let decimal = Decimal(string: "\(value)") else {
                throw ValidationError(field: field, reason: "must be a number")
            }
            return decimal
        }
        var packages: [PackageSpec]?
        if let given = body.packages {
            var list: [PackageSpec] = []
            for (index, package) in given.enumerated() {
                let field = "packages[\(index)]"
                list.append(
                    PackageSpec(
                        id: PackageID(rawValue: package.id),
                        length: try decimal(package.length, "\(field).length"),
                        width: try decimal(package.width, "\(field).width"),
                        height: try decimal(package.height, "\(field).height"),
                        dimensionUnit: package.dimensionUnit.rawValue,
                        weight: try decimal(package.weight, "\(field).weight"),
                        weightUnit: package.weightUnit.rawValue,
                        items: package.items.map {
                            .init(
                                lineItemId: $0.lineItemId,
                                quantity: $0.quantity,
                                serialNumbers: $0.serialNumbers,
                                countryOfOrigin: $0.countryOfOrigin,
                                itemValue: $0.itemValue.map { Money(value: $0.value, currencyCode: $0.currencyCode) }
                            )
                        },
                        fragile: package.fragile
                    )
                )
            }
            packages = list
        }
        return CommandRequest(
            type: CommandType(rawValue: body._type.rawValue) ?? .confirm,
            reason: body.reason?.rawValue,
            lineItemIds: body.lineItemIds,
            packages: packages,
            shippingOptionId: body.shippingOptionId,
            carrierName: body.carrierName,
            trackingId: body.trackingId,
            carrierCode: body.carrierCode,
            shippingMethod: body.shippingMethod,
            wmsCarrier: body.wmsCarrier,
            wmsMethod: body.wmsMethod,
            shipDate: body.shipDate,
            items: body.items?.map { .init(lineItemId: $0.lineItemId, quantity: $0.quantity) },
            packageReferenceId: body.packageReferenceId
        )
    }

    static func schema(_ request: CommandRequest) -> Components.Schemas.CommandRequest {
        .init(
            _type: .init(rawValue: request.type.rawValue)!,
            reason: request.reason.flatMap { .init(rawValue: $0) },
            lineItemIds: request.lineItemIds,
            packages: request.packages?.map { package in
                .init(
                    id: package.id.rawValue,
                    length: NSDecimalNumber(decimal: package.length).doubleValue,
                    width: NSDecimalNumber(decimal: package.width).doubleValue,
                    height: NSDecimalNumber(decimal: package.height).doubleValue,
                    dimensionUnit: .init(rawValue: package.dimensionUnit) ?? .cm,
                    weight: NSDecimalNumber(decimal: package.weight).doubleValue,
                    weightUnit: .init(rawValue: package.weightUnit) ?? .g,
                    fragile: package.fragile,
                    items: package.items.map {
                        .init(
                            lineItemId: $0.lineItemId,
                            quantity: $0.quantity,
                            serialNumbers: $0.serialNumbers,
                            countryOfOrigin: $0.countryOfOrigin,
                            itemValue: $0.itemValue.map { .init(value: $0.value, currencyCode: $0.currencyCode) }
                        )
                    }
                )
            },
            shippingOptionId: request.shippingOptionId,
            carrierName: request.carrierName,
            trackingId: request.trackingId,
            carrierCode: request.carrierCode,
            shippingMethod: request.shippingMethod,
            wmsCarrier: request.wmsCarrier,
            wmsMethod: request.wmsMethod,
            shipDate: request.shipDate,
            packageReferenceId: request.packageReferenceId,
            items: request.items?.map { .init(lineItemId: $0.lineItemId, quantity: $0.quantity) }
        )
    }

    static func schema(_ command: FulfilmentCommand) -> Components.Schemas.Command {
        .init(
            id: command.id.rawValue,
            shipmentId: command.shipmentID.rawValue,
            idempotencyKey: command.idempotencyKey,
            connectionId: command.connectionID.rawValue,
            _type: command.request.type.rawValue,
            status: .init(rawValue: command.status.rawValue)!,
            attempts: command.attempts,
            request: schema(command.request),
            error: command.errorCode.map { .init(code: $0, message: command.errorMessage ?? "") },
            result: command.result.flatMap { Self.object($0) },
            createdAt: command.createdAt,
            updatedAt: command.updatedAt,
            requestedBy: command.requestedBy
        )
    }

    static func schema(_ document: StoredDocument) -> Components.Schemas.Document {
        .init(
            id: document.id.rawValue,
            kind: .init(rawValue: document.kind.rawValue)!,
            shipmentId: document.shipmentID?.rawValue,
            packageId: document.packageID?.rawValue,
            trackingId: document.trackingID,
            carrierName: document.carrierName,
            contentType: document.contentType,
            size: document.data.count,
            createdAt: document.createdAt
        )
    }

    static func schema(_ manifest: Manifest) -> Components.Schemas.Manifest {
        .init(
            id: manifest.id.rawValue,
            connectionId: manifest.connectionID.rawValue,
            locationId: manifest.locationID.rawValue,
            carrierName: manifest.carrierName,
            status: .init(rawValue: manifest.status.rawValue)!,
            createdAt: manifest.createdAt,
            handedOverAt: manifest.handedOverAt,
            idempotencyKey: manifest.idempotencyKey,
            orders: manifest.entries.map { entry in
                .init(
                    shipmentId: entry.shipmentID.rawValue,
                    state: .init(rawValue: entry.state.rawValue)!,
                    packages: entry.packages.map { .init(packageId: $0.packageID.rawValue, trackingId: $0.trackingID) }
                )
            },
            createdBy: manifest.createdBy,
            handedOverBy: manifest.handedOverBy
        )
    }

    static func schema(_ webhook: Webhook) -> Components.Schemas.Webhook {
        .init(
            id: webhook.id,
            url: webhook.url.absoluteString,
            eventTypes: webhook.eventTypes,
            position: webhook.position,
            failingAttempts: webhook.attempts,
            lastStatus: webhook.lastStatus,
            lastError: webhook.lastError,
            lastDeliveredAt: webhook.lastDeliveredAt,
            nextAttemptAt: webhook.attempts > 0 ? webhook.nextAttemptAt : nil,
            createdAt: webhook.createdAt
        )
    }

    static func orderNotFound(_ id: String) -> Components.Responses.NotFound {
        .init(body: .json(problemBody(.notFound, "No order with shipment id \(id).")))
    }

    static func manifestNotFound(_ id: String) -> Components.Responses.NotFound {
        .init(body: .json(problemBody(.notFound, "No manifest with id \(id).")))
    }

    /// 32 random bytes as hex: a signing secret for a webhook that was given none.
}
