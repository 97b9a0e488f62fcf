import Foundation

/// One seller account in one Amazon region, authorised for FlexBridge's application through Login with Amazon.
///
/// Its secrets (the application's client secret, the seller's refresh token) are not part of this value: the store
/// keeps them sealed and hands them out only through ``ConnectionCredentials``.
public struct Connection: Sendable, Hashable, Codable {
    /// Where a connection stands in its authorisation life.
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// Created, but the seller has not consented yet: nothing is synced.
        case pendingAuthorization = "pending_authorization"
        /// Authorised and syncing as its settings say.
        case active
        /// Amazon refused the refresh token (revoked or expired): the seller must consent again. Nothing is retried.
        case needsReauthorization = "needs_reauthorization"
        /// Switched off by an operator.
        case disabled
    }

    public var id: ConnectionID
    /// The account the connection belongs to.
    public var accountID: AccountID
    /// A name for people, such as "Acme India".
    public var name: String
    public var sellingPartnerID: SellingPartnerID
    public var region: Region
    public var marketplaceIDs: [MarketplaceID]
    /// The Login with Amazon client id of the application the seller authorises.
    public var applicationClientID: String
    /// The application's id in Seller Central's app store (`amzn1.sp.solution.…`), which the consent link names;
    /// when absent the client id is used, as the simulator accepts.
    public var applicationID: String?
    public var status: Status
    /// Where to call the Selling Partner API instead of the region's endpoint: a sandbox or the simulator.
    public var endpointOverride: URL?
    public var settings: ConnectionSettings
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: ConnectionID = .generate(),
        accountID: AccountID = .default,
        name: String,
        sellingPartnerID: SellingPartnerID,
        region: Region,
        marketplaceIDs: [MarketplaceID],
        applicationClientID: String,
        applicationID: String? = nil,
        status: Status = .pendingAuthorization,
        endpointOverride: URL? = nil,
        settings: ConnectionSettings = ConnectionSettings(),
        createdAt: Date,
        updatedAt: Date? = nil
    ) {
        self.id = id
        self.accountID = accountID
        self.name = name
        self.sellingPartnerID = sellingPartnerID
        self.region = region
        self.marketplaceIDs = marketplaceIDs
        self.applicationClientID = applicationClientID
        self.applicationID = applicationID
        self.status = status
        self.endpointOverride = endpointOverride
        self.settings = settings
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }

    /// The Selling Partner API endpoint this connection talks to.
    public var endpoint: URL { endpointOverride ?? region.endpoint }

    /// The marketplaces whose merchant-fulfilled orders are pulled: none while MFN order sync is off, else those
    /// of the connection's marketplaces the settings name (all when they name none).
    public var mfnMarketplaceIDs: [MarketplaceID] {
        guard settings.mfnOrderSyncEnabled else { return [] }
        guard let chosen = settings.mfnMarketplaceIds else { return marketplaceIDs }
        return marketplaceIDs.filter(chosen.contains)
    }

    /// The marketplaces whose merchant-fulfilled listings get the MFN stock: none while no hub feeds it, else those
    /// the MFN settings name (all of the connection's when they name none).
    public var mfnStockMarketplaceIDs: [MarketplaceID] {
        Self.mfnStockMarketplaceIDs(of: marketplaceIDs, settings: settings)
    }

    /// ``mfnStockMarketplaceIDs`` of a connection with these marketplaces and settings.
    public static func mfnStockMarketplaceIDs(
        of marketplaceIDs: [MarketplaceID],
        settings: ConnectionSettings
    ) -> [MarketplaceID] {
        guard !settings.mfnStockHubs.isEmpty else { return [] }
        guard let chosen = settings.mfnMarketplaceIds else { return marketplaceIDs }
        return marketplaceIDs.filter(chosen.contains)
    }

    /// Checks what a person could have typed wrong, naming the field.
    public func validate() throws(ValidationError) {
        if name.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError(field: "name", reason: "must not be empty")
        }
        if sellingPartnerID.rawValue.isEmpty {
            throw ValidationError(field: "sellingPartnerId", reason: "must not be empty")
        }
        if marketplaceIDs.isEmpty {
            throw ValidationError(field: "marketplaceIds", reason: "must name at least one marketplace")
        }
        for (index, marketplace) in (settings.mfnMarketplaceIds ?? []).enumerated()
        where !marketplaceIDs.contains(marketplace) {
            throw ValidationError(
                field: "settings.mfnMarketplaceIds[\(index)]",
                reason: "names \(marketplace), which is not one of the connection's marketplaces"
            )
        }
        for marketplace in settings.stockOrderTypeByMarketplace.keys.sorted()
        where !marketplaceIDs.contains(marketplace) {
            throw ValidationError(
                field: "settings.stockOrderTypeByMarketplace.\(marketplace)",
                reason: "names \(marketplace), which is not one of the connection's marketplaces"
            )
        }
        if applicationClientID.isEmpty {
            throw ValidationError(field: "applicationClientId", reason: "must not be empty")
        }
        try settings.validate()
    }
}

/// The secrets of a connection, opened from their sealed form only when FlexBridge calls Amazon.
public struct ConnectionCredentials: Sendable, Hashable {
    /// The Login with Amazon client secret of the application.
    public var clientSecret: String
    /// The seller's refresh token; nil until the seller has consented.
    public var refreshToken: String?

    public init(clientSecret: String, refreshToken: String? = nil) {
        self.clientSecret = clientSecret
        self.refreshToken = refreshToken
    }
}

extension ConnectionCredentials: CustomStringConvertible, CustomDebugStringConvertible {
    /// Never prints a secret, so that a credentials value logged by mistake leaks nothing.
    public var description: String {
        "ConnectionCredentials(clientSecret: <redacted>, refreshToken: \(refreshToken == nil ? "none" : "<redacted>"))"
    }

    public var debugDescription: String { description }
}

/// What a worker's round needs of its connection, read without the rest: its status and settings.
public struct ConnectionSyncState: Sendable, Hashable {
    public var status: Connection.Status
    public var settings: ConnectionSettings

    public init(status: Connection.Status, settings: ConnectionSettings) {
        self.status = status
        self.settings = settings
    }

    /// The settings while the connection's inventory sync runs (active, switched on); nil otherwise.
    public var inventorySettings: ConnectionSettings? {
        status == .active && settings.inventorySyncEnabled ? settings : nil
    }
}
