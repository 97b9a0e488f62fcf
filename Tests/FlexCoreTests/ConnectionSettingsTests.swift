import FlexCore
import Foundation
import Testing

@Suite("Connection settings")
struct ConnectionSettingsTests {
    @Test("changes lists exactly the settings that differ, with JSON values")
    func changes() {
        var new = ConnectionSettings()
        new.orderSyncEnabled = false
        new.quantityCap = 50
        let changes = ConnectionSettings.changes(from: ConnectionSettings(), to: new)
        #expect(
            changes == [
                SettingChange(setting: "orderSyncEnabled", oldValue: "true", newValue: "false"),
                SettingChange(setting: "quantityCap", oldValue: nil, newValue: "50"),
            ]
        )
        #expect(ConnectionSettings.changes(from: new, to: new).isEmpty)
    }

    @Test("settings stored before a setting existed decode with its default")
    func decodesMissingKeys() throws {
        let settings = try JSONDecoder().decode(ConnectionSettings.self, from: Data(#"{"autoConfirm":true}"#.utf8))
        #expect(settings.autoConfirm)
        #expect(settings.inventorySyncEnabled)
        #expect(settings.safetyStock == 0)
    }

    @Test("negative buffers and caps are refused, naming the setting")
    func validation() {
        #expect(
            throws: ValidationError(
                field: "settings.safetyStock",
                reason: "must be a whole number from 0 to 1000000000, got -2"
            )
        ) {
            try ConnectionSettings(safetyStock: -2).validate()
        }
        #expect(throws: ValidationError.self) { try ConnectionSettings(quantityCap: -1).validate() }
        #expect(throws: Never.self) { try ConnectionSettings(safetyStock: 0, quantityCap: 0).validate() }
    }
}

@Suite("Domain validation")
struct DomainValidationTests {
    @Test("a connection needs a name, a seller, a marketplace and a client id")
    func connection() {
        let valid = Connection(
            name: "Acme",
            sellingPartnerID: "A1",
            region: .eu,
            marketplaceIDs: ["A21TJRUUN4KGV"],
            applicationClientID: "c",
            createdAt: Date()
        )
        #expect(throws: Never.self) { try valid.validate() }
        var noMarketplace = valid
        noMarketplace.marketplaceIDs = []
        #expect(throws: ValidationError(field: "marketplaceIds", reason: "must name at least one marketplace")) {
            try noMarketplace.validate()
        }
        var blankName = valid
        blankName.name = "  "
        #expect(throws: ValidationError.self) { try blankName.validate() }
    }

    @Test(
        "ASINs are ten upper-case letters or digits",
        arguments: [("B0CHX1W1XY", true), ("B0CHX1W1X", false), ("b0chx1w1xy", false), ("B0CHX1W1X!", false)]
    )
    func asin(text: String, valid: Bool) {
        #expect(ASIN.isWellFormed(text) == valid)
    }

    @Test("credentials never print their secrets")
    func redaction() {
        let credentials = ConnectionCredentials(clientSecret: "top-secret", refreshToken: "Atzr|token")
        #expect(!"\(credentials)".contains("top-secret"))
        #expect(!String(reflecting: credentials).contains("Atzr"))
    }

    @Test("regions parse case-insensitively and have Amazon's endpoints")
    func regions() {
        #expect(Region(name: "eu") == .eu)
        #expect(Region(name: "xx") == nil)
        #expect(Region.fe.endpoint.host == "sellingpartnerapi-fe.amazon.com")
        #expect(Region.na.sandboxEndpoint.host == "sandbox.sellingpartnerapi-na.amazon.com")
    }
}
