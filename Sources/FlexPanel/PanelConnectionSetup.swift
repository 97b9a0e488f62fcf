import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import HTTPTypes
import Hummingbird

/// Setting a connection up from the panel: add it, have the seller authorise FlexBridge (here, or through a link
/// sent to whoever holds the Seller Central login), test it end to end, and map the WMS's hubs to its locations.
extension Panel {
    /// How long a consent link sent to a seller works.
    static let linkLifetime: TimeInterval = 72 * 3600

    func registerConnectionSetup(on router: Router<BasicRequestContext>) {
        router.get("connections/new") { request, _ in
            try await signedIn(request) { signed in
                guard signed.principal.may(.manageConnections) else { return forbidden(signed) }
                return newConnectionPage(signed)
            }
        }
        postForm("connections", on: router, needs: .manageConnections) { signed, form, _ in
            return try await addConnection(form, signed)
        }
        for action in ["authorize", "link", "test"] {
            postForm("connections/{id}/\(action)", on: router, needs: .manageConnections) { signed, _, parameters in
                try await authorization(action, of: try parameters.require("id"), signed)
            }
        }
        postForm("connections/{id}/hubs", on: router, needs: .changeSettings) { signed, form, parameters in
            let id = try parameters.require("id")
            return try await changeHubs(id, form, signed)
        }
    }

    // MARK: Adding

    static let connectionFields: [(name: String, label: String, hint: String)] = [
        ("name", "Name", "how FlexBridge shows it, e.g. Acme India"),
        ("sellingPartnerId", "Seller id", "the merchant token in Seller Central"),
        ("marketplaceIds", "Marketplace ids", "comma-separated, e.g. A21TJRUUN4KGV"),
        ("clientId", "LWA client id", "of FlexBridge's application"),
        ("clientSecret", "LWA client secret", "stored encrypted, never shown again"),
        ("applicationId", "Application id", "optional: the app id in Seller Central, for the consent page"),
        ("endpoint", "Endpoint", "optional: Amazon's sandbox or a simulator instead of the region's production host"),
    ]

    func newConnectionPage(
        _ signed: Signed,
        entered: [String: String] = [:],
        errors: [String: String] = [:],
        error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        let region = entered["region"] ?? Region.eu.rawValue
        let values: [String: Any] = [
            "csrf": signed.session.csrf,
            "fields": Self.connectionFields.map { field -> [String: Any] in
                [
                    "name": field.name, "label": field.label, "hint": field.hint,
                    "value": field.name == "clientSecret" ? "" : entered[field.name] ?? "",
                    "secret": field.name == "clientSecret", "error": errors[field.name] ?? false,
                    "required": !["applicationId", "endpoint"].contains(field.name),
                ]
            },
            "regions": Region.allCases.map { ["value": $0.rawValue, "selected": $0.rawValue == region] },
        ]
        return render(
            "newConnection",
            values,
            title: "New connection",
            operator: signed,
            error: error,
            status: status
        )
    }

    func addConnection(_ form: [String: String], _ signed: Signed) async throws -> Response {
        func text(_ name: String) -> String { form[name]?.trimmingCharacters(in: .whitespaces) ?? "" }
        func refuse(_ field: String, _ reason: String) -> Response {
            newConnectionPage(
                signed,
                entered: form,
                errors: [field: reason],
                error: "The connection was not added: \(field) \(reason).",
                status: .badRequest
            )
        }
        guard let region = Region(rawValue: text("region")) else { return refuse("region", "choose NA, EU or FE") }
        var endpoint: URL?
        if !text("endpoint").isEmpty {
            guard let url = URL(string: text("endpoint")), ["http", "https"].contains(url.scheme), url.host != nil
            else { return refuse("endpoint", "must be an absolute http or https URL") }
            endpoint = url
        }
        let secret = form["clientSecret"] ?? ""
        guard !secret.trimmingCharacters(in: .whitespaces).isEmpty else {
            return refuse("clientSecret", "must not be empty")
        }
        let connection = Connection(
            accountID: signed.principal.account,
            name: text("name"),
            sellingPartnerID: SellingPartnerID(rawValue: text("sellingPartnerId")),
            region: region,
            marketplaceIDs: text("marketplaceIds").split(whereSeparator: { $0 == "," || $0 == " " })
                .map { MarketplaceID(rawValue: String($0)) },
            applicationClientID: text("clientId"),
            applicationID: text("applicationId").isEmpty ? nil : text("applicationId"),
            endpointOverride: endpoint,
            createdAt: store.clock.now()
        )
        do {
            try await connectionUseCases.create(connection, clientSecret: secret, by: signed.principal)
        } catch let refusal as ConnectionUseCases.Refusal {
            return newConnectionPage(signed, entered: form, error: refusal.description, status: .forbidden)
        } catch let error as ValidationError {
            return refuse(error.field == "applicationClientId" ? "clientId" : error.field, error.reason)
        } catch let error as StoreError where error.code == .conflict || error.code == .invalidInput {
            return newConnectionPage(signed, entered: form, error: error.message, status: .conflict)
        }
        return Self.redirect(to: "/connections/\(connection.id)")
    }

    // MARK: Authorising and testing

    func authorization(_ action: String, of id: String, _ signed: Signed) async throws -> Response {
        let connectionID = ConnectionID(rawValue: id)
        switch action {
        case "authorize", "link":
            guard
                let (token, expiresAt) = try await connectionUseCases.createLink(
                    for: connectionID,
                    lifetime: action == "link" ? Self.linkLifetime : 15 * 60,
                    by: signed.principal
                )
            else { return notFound(signed, what: "connection \(id)") }
            // Here: the operator's browser goes through the link to Amazon's consent page at once.
            guard action == "link" else { return Self.redirect(to: consentLink(token)) }
            return try await connectionPage(
                id,
                signed,
                extra: ["link": ["url": consentLink(token), "expiresAt": Self.time(expiresAt)]],
                notice: "Send this link to whoever holds the seller's Seller Central login."
            )
        default:
            guard
                let (connection, credentials, locations) = try await connectionUseCases.forTest(
                    connectionID,
                    by: signed.principal
                )
            else { return notFound(signed, what: "connection \(id)") }
            let report = await authorizer.check(connection, credentials: credentials, locationIDs: locations)
            try await connectionUseCases.recordTest(report, of: connection)
            return try await connectionPage(
                id,
                signed,
                extra: [
                    "test": [
                        "ok": report.ok,
                        "checks": report.checks.map {
                            ["name": $0.name, "ok": $0.ok ? "passed" : "failed", "message": $0.message]
                        },
                    ]
                ],
                notice: report.ok ? "Every check passed." : nil,
                error: report.ok ? nil : "A check failed: see below what to fix."
            )
        }
    }

    // MARK: Hubs

    func changeHubs(_ id: String, _ form: [String: String], _ signed: Signed) async throws -> Response {
        let connectionID = ConnectionID(rawValue: id)
        let hub = HubCode(rawValue: form["hub"]?.trimmingCharacters(in: .whitespaces) ?? "")
        guard let channel = form["channel"].flatMap(ChannelName.init(rawValue:)) else {
            return try await connectionPage(id, signed, error: "Choose a channel.", status: .badRequest)
        }
        if form["remove"] == "on" {
            let removed: (removed: [LocationMapping], retiringItems: Int)?
            do {
                removed = try await connectionUseCases.removeMapping(
                    of: connectionID,
                    hub: hub,
                    channel: channel,
                    by: signed.principal
                )
            } catch let error as StoreError where error.code == .notFound {
                return try await connectionPage(id, signed, error: error.message, status: .notFound)
            }
            guard let (mappings, retiring) = removed else { return notFound(signed, what: "connection \(id)") }
            return try await connectionPage(
                id,
                signed,
                notice:
                    "Hub \(hub) no longer feeds \(mappings.map(\.locationID.rawValue).joined(separator: ", ")); \(retiring) item(s) go to 0 at Amazon and are then removed."
            )
        }
        let mapping = LocationMapping(
            connectionID: connectionID,
            hub: hub,
            locationID: LocationID(rawValue: form["locationId"]?.trimmingCharacters(in: .whitespaces) ?? ""),
            channel: channel,
            createdAt: store.clock.now()
        )
        do {
            guard try await connectionUseCases.setMapping(mapping, by: signed.principal) else {
                return notFound(signed, what: "connection \(id)")
            }
        } catch let error as ValidationError {
            return try await connectionPage(
                id,
                signed,
                fieldErrors: [error.field: error.reason],
                hubEntered: ["hub": form["hub"] ?? "", "locationId": form["locationId"] ?? ""],
                error: "No hub was mapped: \(error.field) \(error.reason).",
                status: .badRequest
            )
        }
        return Self.redirect(to: "/connections/\(id)")
    }
}
