import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The panel's stock: a WMS SKU at the hubs and at Amazon's locations (what the WMS said, what is sent, Amazon's
/// answer, errors), the items pending or failed, and a listings upload that lists every rejected row.
extension Panel {
    static let maximumUploadBytes = 16 * 1024 * 1024

    func registerStock(on router: Router<BasicRequestContext>) {
        router.get("stock") { request, _ in try await signedIn(request) { try await stockPage(request, $0) } }
        router.post("stock/listings") { request, _ in
            try await signedIn(request) { signed in
                guard let parts = try await Self.multipart(request) else {
                    return try await stockPage(
                        request,
                        signed,
                        error: "Choose a CSV file to upload.",
                        status: .badRequest
                    )
                }
                guard Self.sameToken(parts["csrf"].map { String(decoding: $0, as: UTF8.self) }, signed.session.csrf)
                else { return staleForm(signed) }
                // As the API refuses it: no field takes NUL (PostgreSQL cannot store it in text).
                guard !parts.values.contains(where: { $0.contains(0) }) else {
                    return try await stockPage(
                        request,
                        signed,
                        error: "The upload holds a NUL byte (U+0000), which no field takes; nothing was imported.",
                        status: .badRequest
                    )
                }
                return try await uploadListings(request, parts, signed)
            }
        }
    }

    static let itemStatuses: [(String, String)] = [
        ("", "Failed and pending"), ("failed", "Failed"), ("pending", "Pending"), ("all", "All"),
    ]

    func stockPage(
        _ request: Request,
        _ signed: Signed,
        rejected: [CSVError] = [],
        notice: String? = nil,
        error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let query = request.uri.queryParameters
        let sku = query.get("sku")?.trimmingCharacters(in: .whitespaces) ?? ""
        let chosen = query.get("status") ?? ""
        let connections = try await visibleConnections(signed)
        let within = connections.map(\.id)
        var hubs: [StockStatus.HubLevel] = []
        var items: [InventoryItemStatus] = []
        if !sku.isEmpty {
            let found = try await store.read {
                try await $0.stockStatus(of: WarehouseSKU(rawValue: sku), account: signed.principal.account)
            }
            hubs = found.hubs
            items = found.items.filter { within.contains($0.connectionID) }
        } else {
            let statuses: [StoreSession.InventoryItemFilter.Status?] =
                switch chosen {
                case "failed": [.failed]
                case "pending": [.pending]
                case "all": [nil]
                default: [.failed, .pending]
                }
            for itemStatus in statuses {
                items += try await store.read {
                    try await $0.inventoryItems(
                        .init(within: within, status: itemStatus),
                        after: nil,
                        limit: 100
                    )
                }
            }
        }
        let values: [String: Any] = [
            "sku": sku, "csrf": signed.session.csrf, "canImport": signed.principal.may(.writeStock),
            "statuses": Self.itemStatuses.map { value, label in
                ["value": value, "label": label, "selected": value == chosen] as [String: Any]
            },
            "hasHubs": !hubs.isEmpty,
            "hubs": hubs.map { ["hub": $0.hub.rawValue, "quantity": $0.quantity, "at": Self.time($0.updatedAt)] },
            "items": items.prefix(200).map { item -> [String: Any] in
                [
                    "locationId": item.locationID.rawValue, "merchantSku": item.merchantSKU.rawValue,
                    "channel": item.channel.rawValue, "hub": item.hub.rawValue,
                    "warehouseSku": item.warehouseSKU.rawValue,
                    "warehouseSkuQuery": Self.queryValue(item.warehouseSKU.rawValue), "desired": item.desiredQuantity,
                    "toSend": item.quantityToSend, "lastSent": item.lastSentQuantity.map(String.init) ?? "—",
                    "sellable": item.amazonSellableQuantity.map(String.init) ?? "—",
                    "reserved": item.amazonReservedQuantity.map(String.init) ?? "—",
                    "pending": item.pending ? "yes" : "",
                    "error": item.lastError.map { "\($0.code): \($0.message)" } ?? "",
                ]
            },
            "connections": connections.map { ["id": $0.id.rawValue, "name": $0.name] },
            "hasRejected": !rejected.isEmpty,
            "rejected": rejected.prefix(500).map {
                [
                    "line": $0.line, "column": $0.columnName ?? "\($0.column)",
                    "reason": $0.reason,
                ] as [String: Any]
            },
        ]
        return render("stock", values, title: "Stock", operator: signed, notice: notice, error: error, status: status)
    }

    func uploadListings(_ request: Request, _ parts: [String: Data], _ signed: Signed) async throws -> Response {
        guard signed.principal.may(.writeStock) else { return forbidden(signed) }
        let connectionID = parts["connectionId"].map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard let connection = try await visibleConnections(signed).first(where: { $0.id.rawValue == connectionID })
        else {
            return try await stockPage(request, signed, error: "Choose one of your connections.", status: .badRequest)
        }
        guard let file = parts["file"], !file.isEmpty, let text = String(data: file, encoding: .utf8) else {
            return try await stockPage(
                request,
                signed,
                error: "The file is empty or not UTF-8 text.",
                status: .badRequest
            )
        }
        do {
            let listings = try CSVTable(parsing: text).listings(for: connection)
            let result = try await InventoryUseCases(store: store).importListings(listings, connectionID: connection.id)
            return try await stockPage(
                request,
                signed,
                notice:
                    "\(result.imported) listing\(result.imported == 1 ? "" : "s") imported for \(connection.name); \(result.pendingItems) Amazon item\(result.pendingItems == 1 ? "" : "s") to send."
                    + (result.awaitingSKU > 0
                        ? " \(result.awaitingSKU) given by ASIN only: their SKUs are looked up at Amazon." : "")
            )
        } catch let errors as CSVErrors {
            return try await stockPage(
                request,
                signed,
                rejected: errors.errors,
                error: "\(errors.errors.count) bad row\(errors.errors.count == 1 ? "" : "s"); nothing was imported.",
                status: .badRequest
            )
        } catch let error as CSVError {
            return try await stockPage(
                request,
                signed,
                rejected: [error],
                error: "The file cannot be read; nothing was imported.",
                status: .badRequest
            )
        } catch let error as ValidationError {
            return try await stockPage(
                request,
                signed,
                error: "\(error.field) \(error.reason); nothing was imported.",
                status: .badRequest
            )
        }
    }

    /// The fields of a `multipart/form-data` body (RFC 7578) by name; nil when the request is not one.
    static func multipart(_ request: Request) async throws -> [String: Data]? {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("multipart/form-data"),
            let range = type.range(of: "boundary=")
        else { return nil }
        var boundary = String(type[range.upperBound...])
        if let end = boundary.firstIndex(of: ";") { boundary = String(boundary[..<end]) }
        boundary = boundary.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        guard !boundary.isEmpty else { return nil }
        var collected = try await request.body.collect(upTo: maximumUploadBytes)
        let body = Data(collected.readBytes(length: collected.readableBytes) ?? [])
        let delimiter = Data("--\(boundary)".utf8)
        let headerEnd = Data("\r\n\r\n".utf8)
        var fields: [String: Data] = [:]
        var searchFrom = body.startIndex
        var parts: [Range<Data.Index>] = []
        var previous: Data.Index?
        while let found = body.range(of: delimiter, in: searchFrom..<body.endIndex) {
            if let start = previous { parts.append(start..<found.lowerBound) }
            previous = found.upperBound
            searchFrom = found.upperBound
        }
        for part in parts {
            var slice = body[part]
            // A part starts after the delimiter's line break and ends with one before the next delimiter.
            if slice.starts(with: Data("\r\n".utf8)) { slice = slice.dropFirst(2) }
            if slice.count >= 2, slice.suffix(2) == Data("\r\n".utf8) { slice = slice.dropLast(2) }
            guard let split = slice.range(of: headerEnd) else { continue }
            let headers = String(decoding: slice[slice.startIndex..<split.lowerBound], as: UTF8.self)
            guard let nameRange = headers.range(of: "; name=\"") ?? headers.range(of: ";name=\"") else { continue }
            let name = String(headers[nameRange.upperBound...].prefix { $0 != "\"" })
            fields[name] = Data(slice[split.upperBound...])
        }
        return fields
    }
}
