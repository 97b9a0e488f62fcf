import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An order's page: its lines, timeline, commands and files, and the forms for what comes next — confirm, reject
/// with a reason, pack (Amazon's recommended boxes prefilled, every value checked as the API checks it), shipping
/// options and label, invoice, labels again, hand over — and for a cancelled order, what to put back.
extension Panel {
    func registerOrder(on router: Router<BasicRequestContext>) {
        router.get("orders/{id}") { request, context in
            let id = try context.parameters.require("id")
            return try await signedIn(request) { try await orderPage(id, $0) }
        }
        postForm("orders/{id}/commands", on: router) { signed, form, parameters in
            let id = try parameters.require("id")
            return try await submitCommand(id, form, signed)
        }
        router.get("documents/{id}") { request, context in
            let id = try context.parameters.require("id")
            return try await signedIn(request) { signed in
                guard let document = try await store.read({ try await $0.document(DocumentID(rawValue: id)) }),
                    try await connectionUseCases.connection(document.connectionID, by: signed.principal) != nil
                else { return notFound(signed, what: "file \(id)") }
                var headers = Self.securityHeaders
                headers[.contentType] = document.contentType
                let suffix = document.contentType.contains("pdf") ? "pdf" : "bin"
                headers[.contentDisposition] =
                    "attachment; filename=\"\(document.kind.rawValue)-\(document.id).\(suffix)\""
                return Response(
                    status: .ok,
                    headers: headers,
                    body: .init(byteBuffer: ByteBuffer(bytes: document.data))
                )
            }
        }
    }

    /// The order, when the operator may see its connection.
    func visibleOrder(_ id: String, _ signed: Signed) async throws -> Order? {
        guard let order = try await store.read({ try await $0.order(ShipmentID(rawValue: id)) }),
            try await connectionUseCases.connection(order.connectionID, by: signed.principal) != nil
        else { return nil }
        return order
    }

    /// What the operator typed into the order's forms when the page is shown again with their errors.
    struct OrderForm {
        var values: [String: String] = [:]
        var errors: [String: String] = [:]
    }

    func orderPage(
        _ id: String,
        _ signed: Signed,
        form: OrderForm = OrderForm(),
        error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        guard let order = try await visibleOrder(id, signed) else { return notFound(signed, what: "order \(id)") }
        let (history, commands, documents) = try await store.read { session in
            (
                try await session.orderHistory(order.shipmentID, connectionID: order.connectionID),
                try await session.commands(shipmentID: order.shipmentID, connectionID: order.connectionID),
                try await session.documents(shipmentID: order.shipmentID, connectionID: order.connectionID)
            )
        }
        let facts = order.source == .externalFulfillment ? try? ShipmentFacts(json: order.shipment) : nil
        let merchant = order.source == .mfn ? try? MerchantOrderFacts(document: order.shipment) : nil
        let lines: [[String: Any]] =
            if let merchant {
                merchant.items.map {
                    [
                        "id": $0.orderItemID, "sku": $0.sellerSKU?.rawValue ?? $0.asin ?? "",
                        "units": "\($0.quantityOrdered) (\($0.quantityShipped ?? 0) shipped)",
                    ]
                }
            } else {
                (facts?.lineItems ?? []).map {
                    ["id": $0.shipmentLineItemId, "sku": $0.merchantSku, "units": $0.numberOfUnits] as [String: Any]
                }
            }
        var values: [String: Any] = [
            "shipmentId": order.shipmentID.rawValue, "state": order.state.rawValue, "status": order.status,
            "program": order.program.rawValue, "locationId": order.locationID.rawValue,
            "shipBy": order.expectedShipAt.map(Self.time) ?? "",
            "original": order.originalShipmentID?.rawValue ?? false,
            "problem": order.error.map { "\($0.code): \($0.message)" } ?? false,
            "lines": lines, "mfn": order.source == .mfn, "serviceLevel": merchant?.serviceLevel ?? false,
            "commands": commands.map { command -> [String: Any] in
                let result = command.result.flatMap { try? JSONText.decode(CommandResult.self, from: $0) }
                return [
                    "type": command.request.type.rawValue, "status": command.status.rawValue,
                    "requestedBy": command.requestedBy ?? "",
                    "result": command.errorMessage ?? result?.note ?? result?.status ?? "",
                ]
            },
            "history": history.map {
                ["status": $0.status, "at": Self.time($0.amazonUpdatedAt), "source": $0.source]
            },
            "documents": documents.map {
                [
                    "id": $0.id.rawValue, "kind": $0.kind.rawValue, "packageId": $0.packageID?.rawValue ?? "",
                    "tracking": [$0.carrierName, $0.trackingID].compactMap { $0 }.joined(separator: " "),
                    "at": Self.time($0.createdAt),
                ]
            },
        ]
        if let putBack = Self.putBack(order, history: history, facts: facts) { values["putBack"] = putBack }
        if let merchant {
            let table = try await store.read { try await $0.connection(order.connectionID) }?.settings.shipMethods ?? []
            let mapped = ShipMethodRules.mapping(
                for: merchant.serviceLevel,
                marketplace: merchant.marketplaceID,
                in: table
            )
            values["shipMethod"] = mapped.map(Self.describe) ?? false
            values["unmapped"] = merchant.serviceLevel != nil && mapped == nil
            if signed.principal.may(.workOrders), let shipForm = Self.merchantShipForm(merchant, table: table, form) {
                values["shipForm"] = shipForm
                values["hasActions"] = true
                values["csrf"] = signed.session.csrf
                values["key"] = "panel:\(UUID().uuidString.lowercased())"
            }
        }
        if signed.principal.may(.workOrders), let facts {
            let worked = try await store.read {
                try await $0.locationState(connectionID: order.connectionID, locationID: order.locationID)
            }.isWorked
            if worked {
                values.merge(
                    Self.actions(order, facts: facts, commands: commands, documents: documents, signed, form),
                    uniquingKeysWith: { _, new in new }
                )
            } else {
                values["handedOver"] = true
            }
        }
        return render(
            "order",
            values,
            title: "Order \(order.shipmentID)",
            operator: signed,
            error: error,
            status: status,
            live: "order:\(order.shipmentID)"
        )
    }

    /// The forms for what may come next, by the order's state; each with the session's token and a fresh
    /// idempotency key, so a form sent twice is one command.
    static func actions(
        _ order: Order,
        facts: ShipmentFacts,
        commands: [FulfilmentCommand],
        documents: [StoredDocument],
        _ signed: Signed,
        _ form: OrderForm
    ) -> [String: Any] {
        func allowed(_ type: CommandType) -> Bool { CommandRules.refusal(type, state: order.state) == nil }
        var values: [String: Any] = [
            "csrf": signed.session.csrf, "key": "panel:\(UUID().uuidString.lowercased())",
        ]
        switch order.state {
        case .awaitingConfirmation:
            values["canConfirm"] = true
            values["reasons"] = CommandRequest.rejectionReasons
        case .confirmed:
            values["canReject"] = true
            values["reasons"] = CommandRequest.rejectionReasons
            values["pack"] = packForm(facts, form)
        case .packed:
            values["canReject"] = true
            values["reasons"] = CommandRequest.rejectionReasons
            let options = Self.latestShippingOptions(commands)
            let choices: [[String: Any]] = options.compactMap { option in
                guard let id = option.shippingOptionId else { return nil }
                let carrier = option.carrierName ?? option.shipBy ?? "carrier"
                let text = "\(carrier) (package \(option.packageId))\(option.recommended ? ", recommended" : "")"
                return ["id": id, "selected": form.values["shippingOptionId"] == id, "text": text]
            }
            let carrierError: Any = form.errors["carrierName"] ?? form.errors["trackingId"] ?? false
            values["label"] =
                [
                    "options": choices, "carrierName": form.values["carrierName"] ?? "",
                    "trackingId": form.values["trackingId"] ?? "", "carrierError": carrierError,
                ] as [String: Any]
        case .readyToShip:
            values["canShip"] = true
            values["canRegenerate"] = true
        default:
            break
        }
        if facts.invoiceRequired, allowed(.invoice), !documents.contains(where: { $0.kind == .invoice }),
            order.state != .awaitingConfirmation, order.state != .confirmed
        {
            values["canInvoice"] = true
        }
        if order.state == .awaitingConfirmation || order.state == .confirmed || order.state == .packed
            || order.state == .readyToShip || values["canInvoice"] != nil
        {
            values["hasActions"] = true
        }
        return values
    }

    /// The shipping options the last successful command retrieved, if any.
    static func latestShippingOptions(_ commands: [FulfilmentCommand]) -> [CommandResult.Option] {
        for command in commands.reversed() where command.status == .succeeded {
            if let text = command.result,
                let options = try? JSONText.decode(CommandResult.self, from: text).shippingOptions
            {
                return options
            }
        }
        return []
    }

    /// The pack form: Amazon's recommended packages with their boxes and weights, or one package with every line
    /// when Amazon recommends none; what the operator typed instead, with the error at its field.
    static func packForm(_ facts: ShipmentFacts, _ form: OrderForm) -> [String: Any] {
        let layout = packLayout(facts)
        return [
            "packages": layout.enumerated().map { index, package -> [String: Any] in
                let prefix = "p\(index)"
                func field(_ name: String, _ prefilled: String) -> [String: Any] {
                    [
                        "name": "\(prefix).\(name)", "value": form.values["\(prefix).\(name)"] ?? prefilled,
                        "error": form.errors["\(prefix).\(name)"] ?? false,
                    ]
                }
                func units(_ name: String, _ all: [String], _ prefilled: String) -> [String: Any] {
                    let chosen = form.values["\(prefix).\(name)"] ?? prefilled
                    return [
                        "name": "\(prefix).\(name)",
                        "units": all.map { ["value": $0, "selected": $0 == chosen] as [String: Any] },
                        "error": form.errors["\(prefix).\(name)"] ?? false,
                    ]
                }
                return [
                    "number": index + 1,
                    "length": field("length", package.length), "width": field("width", package.width),
                    "height": field("height", package.height),
                    "dimensionUnit": units("dimensionUnit", PackageSpec.dimensionUnits, package.dimensionUnit),
                    "weight": field("weight", package.weight),
                    "weightUnit": units("weightUnit", PackageSpec.weightUnits, package.weightUnit),
                    "items": package.lines.enumerated().map { itemIndex, line -> [String: Any] in
                        let name = "\(prefix).i\(itemIndex).serials"
                        return [
                            "text": "\(line.numberOfUnits) × \(line.merchantSku) (line \(line.shipmentLineItemId))",
                            "serials": line.complianceAttributes?.serialNumberRequirement == "REQUIRED",
                            "name": name, "value": form.values[name] ?? "", "units": line.numberOfUnits,
                            "error": form.errors[name] ?? false,
                        ]
                    },
                    "error": form.errors[prefix] ?? false,
                ]
            },
            "error": form.errors["packages"] ?? false,
        ]
    }

    /// The packages the pack form shows: Amazon's recommendation (a line it names in no package goes in the first),
    /// or one empty box with every line.
    static func packLayout(
        _ facts: ShipmentFacts
    ) -> [(
        length: String, width: String, height: String, dimensionUnit: String, weight: String, weightUnit: String,
        lines: [ShipmentFacts.Line]
    )] {
        let recommended = facts.shippingInfo?.recommendedPackages ?? []
        guard !recommended.isEmpty else {
            return [("", "", "", "CM", "", "G", facts.lineItems)]
        }
        var placed: Set<String> = []
        // Each line once, in the first package that names it; a package left without lines is left out.
        var layout = recommended.compactMap {
            package -> (String, String, String, String, String, String, [ShipmentFacts.Line])? in
            var lines: [ShipmentFacts.Line] = []
            for item in package.lineItems where !placed.contains(item.lineItemId) {
                guard let line = facts.lineItems.first(where: { $0.shipmentLineItemId == item.lineItemId }) else {
                    continue
                }
                placed.insert(item.lineItemId)
                lines.append(line)
            }
            guard !lines.isEmpty else { return nil }
            return (
                package.dimensions.length.value, package.dimensions.width.value, package.dimensions.height.value,
                package.dimensions.length.dimensionUnit, package.weight.value, package.weight.weightUnit, lines
            )
        }
        let rest = facts.lineItems.filter { !placed.contains($0.shipmentLineItemId) }
        if layout.isEmpty { return [("", "", "", "CM", "", "G", facts.lineItems)] }
        layout[0].6 += rest
        return layout.map { ($0.0, $0.1, $0.2, $0.3, $0.4, $0.5, $0.6) }
    }

    /// The packages the operator entered, in the API's terms; a value that is not a number names its field.
    static func packages(from form: [String: String], facts: ShipmentFacts) throws(ValidationError) -> [PackageSpec] {
        try packLayout(facts).enumerated().map { (index, package) throws(ValidationError) -> PackageSpec in
            let prefix = "p\(index)"
            func number(_ name: String) throws(ValidationError) -> Decimal {
                let text = (form["\(prefix).\(name)"] ?? "").trimmingCharacters(in: .whitespaces)
                guard text.count <= 20, text.wholeMatch(of: /[0-9]+(\.[0-9]+)?/) != nil,
                    let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), !value.isNaN
                else {
                    throw ValidationError(
                        field: "packages[\(index)].\(name)",
                        reason: text.isEmpty ? "is required" : "must be a number such as 12.5, got \(text)"
                    )
                }
                return value
            }
            return PackageSpec(
                id: PackageID(rawValue: "P\(index + 1)"),
                length: try number("length"),
                width: try number("width"),
                height: try number("height"),
                dimensionUnit: form["\(prefix).dimensionUnit"] ?? "",
                weight: try number("weight"),
                weightUnit: form["\(prefix).weightUnit"] ?? "",
                items: package.lines.enumerated().map { itemIndex, line in
                    let serials = (form["\(prefix).i\(itemIndex).serials"] ?? "")
                        .split(whereSeparator: \.isNewline)
                        .map { $0.trimmingCharacters(in: .whitespaces) }
                        .filter { !$0.isEmpty }
                    return PackageSpec.Item(
                        lineItemId: line.shipmentLineItemId,
                        quantity: line.numberOfUnits,
                        serialNumbers: serials.isEmpty ? nil : serials
                    )
                }
            )
        }
    }

    /// The pack form's field for an error the API would name `packages[0].weight` or
    /// `packages[0].items[1].serialNumbers`.
    static func formField(for field: String) -> String {
        let pattern = /^packages\[(\d+)\](?:\.items\[(\d+)\])?\.?([A-Za-z]*)$/
        guard let match = field.wholeMatch(of: pattern) else { return field }
        let package = "p\(match.1)"
        if let item = match.2 { return "\(package).i\(item).serials" }
        return match.3.isEmpty ? package : "\(package).\(match.3)"
    }

    /// What to put back of a cancelled order the warehouse had worked on: nothing before it was confirmed.
    static func putBack(
        _ order: Order,
        history: [(status: String, amazonUpdatedAt: Date, source: String)],
        facts: ShipmentFacts?
    )
        -> [String: Any]?
    {
        guard order.state == .cancelled || order.state == .rejected,
            let previous = history.last(where: { $0.status != "CANCELLED" })?.status,
            case .object(let fields) = OrderMachine.putBack(previousStatus: previous, facts: facts),
            case .string(let stage) = fields["stage"]
        else { return nil }
        let packages: [String] =
            if case .array(let ids) = fields["packageIds"] {
                ids.compactMap { if case .string(let id) = $0 { id } else { nil } }
            } else { [] }
        return [
            "stage": stage == "packed" ? "packed (take the packages apart)" : "picked",
            "items": (facts?.lineItems ?? []).map { "\($0.numberOfUnits) × \($0.merchantSku)" },
            "packages": packages.isEmpty ? false : packages.joined(separator: ", "),
        ]
    }

    func submitCommand(_ id: String, _ form: [String: String], _ signed: Signed) async throws -> Response {
        guard signed.principal.may(.workOrders) else {
            return render(
                "message",
                [
                    "heading": "Not allowed",
                    "text": "Your role (\(signed.principal.role.rawValue)) may not work orders; nothing was done.",
                    "link": "/orders/\(id)", "linkText": "Back to the order",
                ],
                title: "Not allowed",
                operator: signed,
                status: .forbidden
            )
        }
        guard let order = try await visibleOrder(id, signed) else { return notFound(signed, what: "order \(id)") }
        guard let type = form["type"].flatMap(CommandType.init(rawValue:)) else {
            return try await orderPage(id, signed, error: "Choose one of the actions shown.", status: .badRequest)
        }
        let key = form["key"].flatMap { $0.isEmpty || $0.count > 200 ? nil : $0 } ?? "panel:\(UUID().uuidString)"
        var entered = OrderForm(values: form)
        var field: (String) -> String = Self.formField(for:)
        do {
            var request = CommandRequest(type: type)
            switch type {
            case .ship where order.source == .mfn:
                let facts = try MerchantOrderFacts(document: order.shipment)
                let (merchant, itemFields) = try Self.merchantShipRequest(from: form, facts: facts, now: Date())
                request = merchant
                field = { Self.merchantShipField($0, itemFields: itemFields) }
            case .reject:
                request.reason = form["reason"]
            case .pack where order.source == .externalFulfillment:
                request.packages = try Self.packages(from: form, facts: try ShipmentFacts(json: order.shipment))
            case .pack:
                break
            case .label:
                request.shippingOptionId = form["shippingOptionId"].flatMap { $0.isEmpty ? nil : $0 }
                let carrier = form["carrierName"]?.trimmingCharacters(in: .whitespaces) ?? ""
                let tracking = form["trackingId"]?.trimmingCharacters(in: .whitespaces) ?? ""
                request.carrierName = carrier.isEmpty ? nil : carrier
                request.trackingId = tracking.isEmpty ? nil : tracking
            case .confirm, .shippingOptions, .invoice, .regenerateLabels, .ship:
                break
            }
            _ = try await FulfilmentUseCases(store: store).submitCommand(
                request,
                to: ShipmentID(rawValue: id),
                idempotencyKey: key,
                by: signed.principal
            )
        } catch let refusal as FulfilmentUseCases.Refusal {
            return try await orderPage(id, signed, error: refusal.description, status: .conflict)
        } catch let error as ValidationError {
            entered.errors[field(error.field)] = error.reason
            return try await orderPage(
                id,
                signed,
                form: entered,
                error: "Nothing was sent: \(error.field) \(error.reason).",
                status: .badRequest
            )
        } catch let error as StoreError where error.code == .conflict {
            return try await orderPage(id, signed, error: error.message, status: .conflict)
        }
        return Self.redirect(
            to:
                "/orders/\(order.shipmentID.rawValue.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "")"
        )
    }
}
