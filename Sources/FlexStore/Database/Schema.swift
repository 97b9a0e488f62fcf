import SQLKit

/// FlexBridge's schema, one migration per step, oldest first.
///
/// Conventions, so that one SQL code path serves SQLite and PostgreSQL: times are BIGINT milliseconds since the
/// epoch (UTC), JSON is TEXT, sealed secrets are base64 TEXT, ids are TEXT, feeds use BIGINT auto-increment keys.
enum Schema {
    static let migrations: [Migration] = [
        Migration(version: 1, name: "connections, locations, listings, events, leases, change log") { database, _ in
            try await database.create(table: "meta")
                .column("key", type: .text, .primaryKey(autoIncrement: false))
                .column("value", type: .text, .notNull)
                .run()

            try await database.create(table: "connections")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("name", type: .text, .notNull)
                .column("selling_partner_id", type: .text, .notNull)
                .column("region", type: .text, .notNull)
                .column("marketplace_ids", type: .text, .notNull)
                .column("application_client_id", type: .text, .notNull)
                .column("client_secret_sealed", type: .text, .notNull)
                .column("refresh_token_sealed", type: .text)
                .column("status", type: .text, .notNull)
                .column("endpoint_override", type: .text)
                .column("settings", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .unique("selling_partner_id", "region")
                .run()

            try await database.create(table: "location_mappings")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("hub", type: .text, .notNull)
                .column("location_id", type: .text, .notNull)
                .column("channel", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .primaryKey("connection_id", "hub", "channel")
                .run()
            try await database.create(index: "location_mappings_by_location")
                .on("location_mappings")
                .column("connection_id").column("location_id")
                .run()

            try await database.create(table: "listings")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("marketplace_id", type: .text, .notNull)
                .column("merchant_sku", type: .text, .notNull)
                .column("warehouse_sku", type: .text, .notNull)
                .column("asin", type: .text, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .primaryKey("connection_id", "marketplace_id", "merchant_sku")
                .run()
            try await database.create(index: "listings_by_warehouse_sku")
                .on("listings")
                .column("connection_id").column("warehouse_sku")
                .run()

            try await database.create(table: "events")
                .column("sequence", type: .bigint, .primaryKey(autoIncrement: true))
                .column("id", type: .text, .notNull, .unique)
                .column("type", type: .text, .notNull)
                .column("connection_id", type: .text)
                .column("subject", type: .text)
                .column("payload", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .run()

            try await database.create(table: "leases")
                .column("name", type: .text, .primaryKey(autoIncrement: false))
                .column("owner", type: .text, .notNull)
                .column("epoch", type: .bigint, .notNull)
                .column("expires_at", type: .bigint, .notNull)
                .run()

            try await database.create(table: "config_changes")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("connection_id", type: .text)
                .column("setting", type: .text, .notNull)
                .column("old_value", type: .text)
                .column("new_value", type: .text)
                .column("actor", type: .text, .notNull)
                .column("changed_at", type: .bigint, .notNull)
                .run()
            try await database.create(index: "config_changes_by_connection")
                .on("config_changes")
                .column("connection_id").column("id")
                .run()
        },
        Migration(version: 2, name: "seller authorisation: application ids and consent states") { database, _ in
            try await database.raw("ALTER TABLE connections ADD COLUMN application_id TEXT").run()
            try await database.create(table: "authorization_states")
                .column("state", type: .text, .primaryKey(autoIncrement: false))
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("redirect_uri", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("expires_at", type: .bigint, .notNull)
                .run()
        },
    ]
}
