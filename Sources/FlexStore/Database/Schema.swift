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
        Migration(version: 3, name: "stock levels and the inventory items synced to Amazon") { database, _ in
            try await database.create(table: "stock_levels")
                .column("hub", type: .text, .notNull)
                .column("warehouse_sku", type: .text, .notNull)
                .column("quantity", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .column("write_id", type: .bigint, .notNull)
                .primaryKey("hub", "warehouse_sku")
                .run()
            try await database.create(index: "stock_levels_by_write").on("stock_levels").column("write_id").run()
            try await database.create(index: "stock_levels_by_sku").on("stock_levels").column("warehouse_sku").run()
            try await database.create(index: "location_mappings_by_hub").on("location_mappings").column("hub").run()

            // One row per (connection, location, merchant SKU, channel): what Amazon should hold there and what it
            // was last told. `version` moves at every change that may alter the quantity; the item is pending while
            // it is above `synced_version` and `failed_version` (a version Amazon refused with an actionable error).
            // `sequence` is the last clientSequenceNumber used, written before the call that carries it.
            try await database.create(table: "inventory_items")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("location_id", type: .text, .notNull)
                .column("merchant_sku", type: .text, .notNull)
                .column("channel", type: .text, .notNull)
                .column("marketplace_id", type: .text, .notNull)
                .column("hub", type: .text, .notNull)
                .column("warehouse_sku", type: .text, .notNull)
                .column("free_quantity", type: .bigint, .notNull)
                .column("version", type: .bigint, .notNull)
                .column("changed_at", type: .bigint, .notNull)
                .column("synced_version", type: .bigint, .notNull, .default(0))
                .column("failed_version", type: .bigint, .notNull, .default(0))
                .column("sequence", type: .bigint)
                .column("sent_quantity", type: .bigint)
                .column("sent_reserved", type: .bigint)
                .column("sent_at", type: .bigint)
                .column("amazon_sellable", type: .bigint)
                .column("amazon_reserved", type: .bigint)
                .column("amazon_sequence", type: .bigint)
                .column("amazon_at", type: .bigint)
                .column("error_code", type: .text)
                .column("error_message", type: .text)
                .column("error_actionable", type: .bigint)
                .column("error_at", type: .bigint)
                .column("attempts", type: .bigint, .notNull, .default(0))
                .column("retry_at", type: .bigint, .notNull, .default(0))
                .primaryKey("connection_id", "location_id", "merchant_sku", "channel")
                .run()
            try await database.raw(
                """
                CREATE INDEX inventory_items_pending ON inventory_items (connection_id, changed_at)
                WHERE version > synced_version AND version > failed_version
                """
            ).run()
            try await database.create(index: "inventory_items_by_sku").on("inventory_items").column("warehouse_sku").run()

            // Sequence numbers another connector used, imported when a seller moves to FlexBridge: an item's first
            // number is above its floor.
            try await database.create(table: "sequence_floors")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("location_id", type: .text, .notNull)
                .column("merchant_sku", type: .text, .notNull)
                .column("channel", type: .text, .notNull)
                .column("sequence", type: .bigint, .notNull)
                .primaryKey("connection_id", "location_id", "merchant_sku", "channel")
                .run()
        },
    ]
}
