import FlexCore
import Foundation
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
            try await database.create(index: "inventory_items_by_sku").on("inventory_items").column("warehouse_sku")
                .run()

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
        Migration(
            version: 4,
            name: "orders mirrored from Amazon shipments, their history, polling watermarks, notified fetches"
        ) { database, _ in
            try await database.create(table: "orders")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("shipment_id", type: .text, .notNull)
                .column("location_id", type: .text, .notNull)
                .column("marketplace_id", type: .text, .notNull)
                .column("channel", type: .text, .notNull)
                .column("program", type: .text, .notNull)
                .column("shipment_type", type: .text)
                .column("original_shipment_id", type: .text)
                .column("status", type: .text, .notNull)
                .column("amazon_created_at", type: .bigint, .notNull)
                .column("amazon_updated_at", type: .bigint, .notNull)
                .column("expected_ship_at", type: .bigint)
                .column("shipment", type: .text, .notNull)
                .column("first_seen_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .primaryKey("connection_id", "shipment_id")
                .run()
            try await database.create(index: "orders_by_status").on("orders").column("connection_id").column("status")
                .run()
            try await database.create(index: "orders_by_shipment").on("orders").column("shipment_id").run()
            try await database.create(table: "order_history")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("connection_id", type: .text, .notNull)
                .column("shipment_id", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("amazon_updated_at", type: .bigint, .notNull)
                .column("source", type: .text, .notNull)
                .column("recorded_at", type: .bigint, .notNull)
                .run()
            try await database.create(index: "order_history_by_order").on("order_history").column("connection_id")
                .column("shipment_id").run()
            // Per connection, location ('' for the whole seller) and status: the newest lastUpdatedDateTime seen.
            try await database.create(table: "order_watermarks")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("location_id", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("watermark", type: .bigint, .notNull)
                .primaryKey("connection_id", "location_id", "status")
                .run()
            // Shipments Amazon notified about, stored before the notification is acknowledged, fetched by the worker.
            try await database.create(table: "shipment_fetches")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("shipment_id", type: .text, .notNull)
                .column("requested_at", type: .bigint, .notNull)
                .primaryKey("connection_id", "shipment_id")
                .run()
        },
        Migration(
            version: 5,
            name: "fulfilment: commands, documents, FlexBridge's order state and errors, manifests, webhooks"
        ) { database, _ in
            for column in [
                "state TEXT NOT NULL DEFAULT 'awaiting_confirmation'", "error_code TEXT", "error_message TEXT",
                "error_at BIGINT",
                "error_command_id TEXT",
            ] {
                try await database.raw("ALTER TABLE orders ADD COLUMN \(unsafeRaw: column)").run()
            }
            // The status Amazon notified, so that a notification of a change FlexBridge already recorded is not fetched.
            try await database.raw("ALTER TABLE shipment_fetches ADD COLUMN status TEXT").run()
            try await database.create(index: "orders_by_state").on("orders").column("state").column("expected_ship_at")
                .run()
            // Commands run per order in sequence order; the key makes a repeated request return the first command.
            try await database.create(table: "order_commands")
                .column("sequence", type: .bigint, .primaryKey(autoIncrement: true))
                .column("id", type: .text, .notNull, .unique)
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("shipment_id", type: .text, .notNull)
                .column("idempotency_key", type: .text, .notNull)
                .column("type", type: .text, .notNull)
                .column("request", type: .text, .notNull)
                // The request as the caller sent it: the same key with another request is refused.
                .column("fingerprint", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("attempts", type: .bigint, .notNull, .default(0))
                .column("retry_at", type: .bigint, .notNull, .default(0))
                .column("error_code", type: .text)
                .column("error_message", type: .text)
                .column("result", type: .text)
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .unique("connection_id", "idempotency_key")
                .run()
            try await database.create(index: "order_commands_open").on("order_commands").column("connection_id").column(
                "status"
            ).run()
            try await database.create(index: "order_commands_by_order").on("order_commands").column("connection_id")
                .column("shipment_id").run()
            // Labels, invoices and manifests, base64 in TEXT so that one code path serves both databases.
            try await database.create(table: "documents")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("shipment_id", type: .text)
                .column("kind", type: .text, .notNull)
                .column("package_id", type: .text)
                .column("tracking_id", type: .text)
                .column("carrier_name", type: .text)
                .column("content_type", type: .text, .notNull)
                .column("data", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("superseded_at", type: .bigint)
                .run()
            try await database.create(index: "documents_by_order").on("documents").column("connection_id").column(
                "shipment_id"
            ).run()
            try await database.create(table: "manifests")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("location_id", type: .text, .notNull)
                .column("carrier_name", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("handed_over_at", type: .bigint)
                .run()
            try await database.create(table: "manifest_orders")
                .column("manifest_id", type: .text, .notNull, .references("manifests", "id", onDelete: .cascade))
                .column("connection_id", type: .text, .notNull)
                .column("shipment_id", type: .text, .notNull)
                .primaryKey("connection_id", "shipment_id")
                .run()
            try await database.create(index: "manifest_orders_by_manifest").on("manifest_orders").column("manifest_id")
                .run()
            // Each webhook reads the event feed from its own position; one delivery in flight per webhook.
            try await database.create(table: "webhooks")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("url", type: .text, .notNull)
                .column("secret_sealed", type: .text, .notNull)
                .column("event_types", type: .text, .notNull)
                .column("enabled", type: .bigint, .notNull)
                .column("position", type: .bigint, .notNull)
                .column("attempts", type: .bigint, .notNull, .default(0))
                .column("next_attempt_at", type: .bigint, .notNull, .default(0))
                .column("claimed_until", type: .bigint, .notNull, .default(0))
                .column("last_status", type: .bigint)
                .column("last_error", type: .text)
                .column("last_delivered_at", type: .bigint)
                .column("created_at", type: .bigint, .notNull)
                .run()
        },
        Migration(version: 6, name: "inventory items being retired: sent 0 at Amazon, then removed") { database, _ in
            // Set when the hub mapping or the listing that fed the item is removed: the item is sent 0, and its row
            // goes once Amazon applied that (or refused it: then Amazon had nothing to stop selling).
            try await database.raw("ALTER TABLE inventory_items ADD COLUMN retiring BIGINT NOT NULL DEFAULT 0").run()
        },
        Migration(version: 7, name: "manifests created under an idempotency key") { database, _ in
            // NULL for a manifest created without a key; both engines let any number of rows hold NULL.
            try await database.raw("ALTER TABLE manifests ADD COLUMN idempotency_key TEXT").run()
            try await database.raw(
                "CREATE UNIQUE INDEX manifests_by_key ON manifests (connection_id, idempotency_key)"
            ).run()
        },
        Migration(version: 8, name: "accounts: connections, stock levels, events and webhooks belong to one") {
            database,
            _ in
            try await database.create(table: "accounts")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("name", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .run()
            // What the installation held before accounts existed moves into the default account.
            try await database.raw(
                "INSERT INTO accounts (id, name, created_at) VALUES ('default', 'Default account', 0)"
            ).run()
            for table in ["connections", "events", "webhooks"] {
                try await database.raw(
                    "ALTER TABLE \(unsafeRaw: table) ADD COLUMN account_id TEXT NOT NULL DEFAULT 'default'"
                ).run()
            }
            try await database.create(index: "connections_by_account").on("connections").column("account_id")
                .column("created_at").run()
            try await database.create(index: "events_by_account").on("events").column("account_id").column("sequence")
                .run()
            // A hub's stock is the account's: two accounts may both call a hub HUB1. The key changes, so the table
            // is rebuilt (one path for both engines).
            try await database.create(table: "stock_levels_v8")
                .column("account_id", type: .text, .notNull)
                .column("hub", type: .text, .notNull)
                .column("warehouse_sku", type: .text, .notNull)
                .column("quantity", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .column("write_id", type: .bigint, .notNull)
                .primaryKey("account_id", "hub", "warehouse_sku")
                .run()
            try await database.raw(
                """
                INSERT INTO stock_levels_v8 (account_id, hub, warehouse_sku, quantity, updated_at, write_id)
                SELECT 'default', hub, warehouse_sku, quantity, updated_at, write_id FROM stock_levels
                """
            ).run()
            try await database.raw("DROP TABLE stock_levels").run()
            try await database.raw("ALTER TABLE stock_levels_v8 RENAME TO stock_levels").run()
            try await database.create(index: "stock_levels_by_write").on("stock_levels").column("write_id").run()
            try await database.create(index: "stock_levels_by_sku").on("stock_levels").column("account_id")
                .column("warehouse_sku").run()
        },
        Migration(version: 9, name: "API keys; webhooks limited to the connections their creator may see") {
            database,
            _ in
            // A key is stored as its SHA-256 (the key is 256 random bits, so no slow hash is needed) and found by
            // its public prefix; connection_ids is a JSON array, NULL for all of the account's connections.
            try await database.create(table: "api_keys")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("account_id", type: .text, .notNull)
                .column("name", type: .text, .notNull)
                .column("prefix", type: .text, .notNull)
                .column("key_hash", type: .text, .notNull)
                .column("role", type: .text, .notNull)
                .column("connection_ids", type: .text)
                .column("created_at", type: .bigint, .notNull)
                .column("created_by", type: .text, .notNull)
                .column("last_used_at", type: .bigint)
                .column("revoked_at", type: .bigint)
                .run()
            try await database.raw("CREATE UNIQUE INDEX api_keys_by_prefix ON api_keys (prefix)").run()
            try await database.raw("ALTER TABLE webhooks ADD COLUMN connection_ids TEXT").run()
        },
        Migration(version: 10, name: "operators; who asked for each command, made and handed over each manifest") {
            database,
            _ in
            try await database.raw("ALTER TABLE order_commands ADD COLUMN requested_by TEXT").run()
            // Changes of no connection (keys, operators) belong to an account; NULL for a connection's own.
            try await database.raw("ALTER TABLE config_changes ADD COLUMN account_id TEXT").run()
            // Consent states are kept as their SHA-256 from now on; those stored as they were stop working.
            try await database.raw("DELETE FROM authorization_states").run()
            // The link sent to a seller (valid for days) is FlexBridge's own; opening it makes a consent state that
            // lasts minutes. Kept as the token's SHA-256.
            try await database.create(table: "authorization_links")
                .column("token_hash", type: .text, .primaryKey(autoIncrement: false))
                .column("connection_id", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("expires_at", type: .bigint, .notNull)
                .run()
            try await database.raw("ALTER TABLE manifests ADD COLUMN created_by TEXT").run()
            try await database.raw("ALTER TABLE manifests ADD COLUMN handed_over_by TEXT").run()
            // password_hash is scrypt's; failed_attempts and locked_until lock an operator out after wrong passwords.
            try await database.create(table: "operators")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("account_id", type: .text, .notNull)
                .column("name", type: .text, .notNull)
                .column("password_hash", type: .text, .notNull)
                .column("role", type: .text, .notNull)
                .column("connection_ids", type: .text)
                .column("created_at", type: .bigint, .notNull)
                .column("created_by", type: .text, .notNull)
                .column("last_login_at", type: .bigint)
                .column("failed_attempts", type: .bigint, .notNull, .default(0))
                .column("locked_until", type: .bigint)
                .column("disabled_at", type: .bigint)
                .run()
            try await database.raw("CREATE UNIQUE INDEX operators_by_name ON operators (account_id, name)").run()
        },
        Migration(version: 11, name: "returns, their history and receipts; locations' go-live and hand-over modes") {
            database,
            _ in
            // facts is FlexBridge's reading of Amazon's return (JSON), document Amazon's own; receipt is what the
            // warehouse recorded when the parcel arrived (JSON), NULL until then.
            try await database.create(table: "returns")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("return_id", type: .text, .notNull)
                .column("return_location_id", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("rma_id", type: .text)
                .column("shipment_id", type: .text)
                .column("order_id", type: .text)
                .column("merchant_sku", type: .text, .notNull)
                .column("facts", type: .text, .notNull)
                .column("document", type: .text, .notNull)
                .column("amazon_updated_at", type: .bigint, .notNull)
                .column("first_seen_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .column("receipt", type: .text)
                .primaryKey("connection_id", "return_id")
                .run()
            try await database.create(index: "returns_by_id").on("returns").column("return_id").run()
            try await database.create(index: "orders_by_original").on("orders").column("original_shipment_id").run()
            try await database.create(index: "returns_by_shipment").on("returns").column("shipment_id").run()
            try await database.create(index: "returns_by_rma").on("returns").column("rma_id").run()
            try await database.create(table: "return_history")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("return_id", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("amazon_updated_at", type: .bigint, .notNull)
                .column("source", type: .text, .notNull)
                .column("recorded_at", type: .bigint, .notNull)
                .run()
            try await database.create(index: "return_history_by_return").on("return_history").column("connection_id")
                .column("return_id").run()
            // A location never set here is live. pilot_skus and went_live_with are JSON.
            try await database.create(table: "location_states")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("location_id", type: .text, .notNull)
                .column("mode", type: .text, .notNull)
                .column("pilot_skus", type: .text, .notNull)
                .column("mode_since", type: .bigint, .notNull)
                .column("changed_by", type: .text)
                .column("went_live_with", type: .text)
                .primaryKey("connection_id", "location_id")
                .run()
        },
        Migration(version: 12, name: "operators' panel sessions") { database, _ in
            // A session is kept as its token's SHA-256; csrf is the token every form of the session carries.
            try await database.create(table: "panel_sessions")
                .column("token_hash", type: .text, .primaryKey(autoIncrement: false))
                .column("operator_id", type: .text, .notNull)
                .column("account_id", type: .text, .notNull)
                .column("csrf", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("last_seen_at", type: .bigint, .notNull)
                .column("expires_at", type: .bigint, .notNull)
                .run()
            try await database.create(index: "panel_sessions_by_operator").on("panel_sessions").column("operator_id")
                .run()
        },
        Migration(version: 13, name: "sync activity per connection and minute, for the dashboard") { database, _ in
            // Counters added to by every node (stock sent, Amazon's calls and refusals, polls, notifications); the
            // last_* columns hold the latest time in the minute, 0 for none.
            try await database.create(table: "sync_activity")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("minute", type: .bigint, .notNull)
                .column("skus_sent", type: .bigint, .notNull, .default(0))
                .column("amazon_calls", type: .bigint, .notNull, .default(0))
                .column("throttled", type: .bigint, .notNull, .default(0))
                .column("amazon_errors", type: .bigint, .notNull, .default(0))
                .column("order_polls", type: .bigint, .notNull, .default(0))
                .column("notifications", type: .bigint, .notNull, .default(0))
                .column("commands_failed", type: .bigint, .notNull, .default(0))
                .column("last_push_at", type: .bigint, .notNull, .default(0))
                .column("last_poll_at", type: .bigint, .notNull, .default(0))
                .column("last_notification_at", type: .bigint, .notNull, .default(0))
                .primaryKey("connection_id", "minute")
                .run()
            // The latest push, poll and notification of each connection, kept after its minutes are dropped: a
            // sync that stopped days ago still says when it last worked.
            try await database.create(table: "sync_last")
                .column(
                    "connection_id",
                    type: .text,
                    .primaryKey(autoIncrement: false),
                    .references("connections", "id", onDelete: .cascade)
                )
                .column("last_push_at", type: .bigint, .notNull, .default(0))
                .column("last_poll_at", type: .bigint, .notNull, .default(0))
                .column("last_notification_at", type: .bigint, .notNull, .default(0))
                .run()
        },
        Migration(version: 14, name: "orders from every source: External Fulfillment shipments and MFN orders") {
            database,
            _ in
            try await database.raw(
                "ALTER TABLE orders ADD COLUMN source TEXT NOT NULL DEFAULT 'external_fulfillment'"
            ).run()
            // MFN orders Amazon notified about (ORDER_CHANGE), stored before the notification is acknowledged.
            try await database.create(table: "merchant_order_fetches")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("order_id", type: .text, .notNull)
                .column("requested_at", type: .bigint, .notNull)
                .primaryKey("connection_id", "order_id")
                .run()
        },
        Migration(version: 15, name: "merchant-fulfilled listings' stock and the JSON listings feeds that carry it") {
            database,
            _ in
            // Who fulfils a listing's orders: only a MERCHANT listing is sent as MFN stock.
            try await database.raw(
                "ALTER TABLE listings ADD COLUMN fulfilled_by TEXT NOT NULL DEFAULT 'AMAZON'"
            ).run()
            // One row per (connection, marketplace, merchant SKU) of a merchant-fulfilled listing: the MFN hubs'
            // summed units, its version (bumped when they change), what was last sent and how, and the feed it is
            // in while one carries it.
            try await database.create(table: "listing_items")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("marketplace_id", type: .text, .notNull)
                .column("merchant_sku", type: .text, .notNull)
                .column("warehouse_sku", type: .text, .notNull)
                .column("free_quantity", type: .bigint, .notNull)
                .column("version", type: .bigint, .notNull)
                .column("synced_version", type: .bigint, .notNull, .default(0))
                .column("failed_version", type: .bigint, .notNull, .default(0))
                .column("changed_at", type: .bigint, .notNull)
                .column("retry_at", type: .bigint, .notNull, .default(0))
                .column("sent_quantity", type: .bigint)
                .column("sent_at", type: .bigint)
                .column("sent_route", type: .text)
                .column("sent_reference", type: .text)
                .column("feed_id", type: .text)
                .column("feed_version", type: .bigint)
                .column("feed_quantity", type: .bigint)
                .column("feed_message", type: .bigint)
                .column("error_code", type: .text)
                .column("error_message", type: .text)
                .column("error_at", type: .bigint)
                .primaryKey("connection_id", "marketplace_id", "merchant_sku")
                .run()
            try await database.create(index: "listing_items_by_change")
                .on("listing_items")
                .column("connection_id").column("changed_at")
                .run()
            try await database.create(index: "listing_items_by_feed").on("listing_items").column("feed_id").run()
            // A JSON listings feed, written (preparing) with its items before Amazon is asked, so that a node killed
            // mid-submission finds it and adopts Amazon's feed instead of sending the changes twice.
            try await database.create(table: "listing_feeds")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("marketplace_id", type: .text, .notNull)
                .column("sequence", type: .bigint, .notNull)
                .column("amazon_feed_id", type: .text)
                .column("status", type: .text, .notNull)
                .column("items", type: .bigint, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("submitted_at", type: .bigint)
                .column("checked_at", type: .bigint)
                .column("finished_at", type: .bigint)
                .column("accepted", type: .bigint)
                .column("refused", type: .bigint)
                .column("error", type: .text)
                .run()
            try await database.create(index: "listing_feeds_by_connection")
                .on("listing_feeds")
                .column("connection_id").column("sequence")
                .run()
        },
        Migration(
            version: 16,
            name:
                "prices per SKU and marketplace, listings by ASIN, MFN reconciliation, FBA stock and stock orders"
        ) {
            database,
            _ in
            // The WMS's price of a SKU in a marketplace, as one canonical JSON text: a change is a different text.
            try await database.create(table: "prices")
                .column("account_id", type: .text, .notNull)
                .column("marketplace_id", type: .text, .notNull)
                .column("warehouse_sku", type: .text, .notNull)
                .column("offer", type: .text, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .primaryKey("account_id", "marketplace_id", "warehouse_sku")
                .run()
            try await database.create(index: "prices_by_change").on("prices").column("account_id").column("updated_at")
                .run()
            // A listing's quantity and its price are two items (facets) with their own versions, so that a price
            // Amazon refuses never holds the stock back. The key gains the facet: the table is made again.
            try await database.create(table: "listing_items_next")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("marketplace_id", type: .text, .notNull)
                .column("merchant_sku", type: .text, .notNull)
                .column("facet", type: .text, .notNull)
                .column("warehouse_sku", type: .text, .notNull)
                .column("free_quantity", type: .bigint, .notNull)
                .column("price", type: .text)
                .column("version", type: .bigint, .notNull)
                .column("synced_version", type: .bigint, .notNull, .default(0))
                .column("failed_version", type: .bigint, .notNull, .default(0))
                .column("changed_at", type: .bigint, .notNull)
                .column("retry_at", type: .bigint, .notNull, .default(0))
                .column("sent_quantity", type: .bigint)
                .column("sent_price", type: .text)
                .column("sent_at", type: .bigint)
                .column("sent_route", type: .text)
                .column("sent_reference", type: .text)
                .column("feed_id", type: .text)
                .column("feed_version", type: .bigint)
                .column("feed_quantity", type: .bigint)
                .column("feed_price", type: .text)
                .column("feed_message", type: .bigint)
                .column("error_code", type: .text)
                .column("error_message", type: .text)
                .column("error_at", type: .bigint)
                // The last look at Amazon's number (reconciliation): when, what Amazon showed, the drift found.
                .column("reconciled_at", type: .bigint, .notNull, .default(0))
                .column("amazon_quantity", type: .bigint)
                .column("drift", type: .text)
                .primaryKey("connection_id", "marketplace_id", "merchant_sku", "facet")
                .run()
            try await database.raw(
                """
                INSERT INTO listing_items_next (connection_id, marketplace_id, merchant_sku, facet, warehouse_sku,
                    free_quantity, version, synced_version, failed_version, changed_at, retry_at, sent_quantity,
                    sent_at, sent_route, sent_reference, feed_id, feed_version, feed_quantity, feed_message, error_code,
                    error_message, error_at)
                SELECT connection_id, marketplace_id, merchant_sku, 'quantity', warehouse_sku, free_quantity, version,
                    synced_version, failed_version, changed_at, retry_at, sent_quantity, sent_at, sent_route,
                    sent_reference, feed_id, feed_version, feed_quantity, feed_message, error_code, error_message,
                    error_at
                FROM listing_items
                """
            ).run()
            try await database.raw("DROP TABLE listing_items").run()
            try await database.raw("ALTER TABLE listing_items_next RENAME TO listing_items").run()
            try await database.create(index: "listing_items_by_change")
                .on("listing_items")
                .column("connection_id").column("changed_at")
                .run()
            try await database.create(index: "listing_items_by_feed").on("listing_items").column("feed_id").run()
            // A listing given by its ASIN only, until Amazon's listings of the seller name its SKU: pending, resolved
            // (the listing made), none or several (said, and looked at again later), failed (Amazon refused).
            try await database.create(table: "asin_listings")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("marketplace_id", type: .text, .notNull)
                .column("asin", type: .text, .notNull)
                .column("warehouse_sku", type: .text, .notNull)
                .column("fulfilled_by", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("merchant_skus", type: .text)
                .column("message", type: .text)
                .column("checked_at", type: .bigint)
                .column("created_at", type: .bigint, .notNull)
                .primaryKey("connection_id", "marketplace_id", "asin")
                .run()
            // FBA stock per connection, marketplace and SKU as getInventorySummaries last reported it.
            try await database.create(table: "fba_stock")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("marketplace_id", type: .text, .notNull)
                .column("merchant_sku", type: .text, .notNull)
                .column("asin", type: .text)
                .column("fn_sku", type: .text)
                .column("product_name", type: .text)
                .column("fulfillable", type: .bigint, .notNull)
                .column("inbound_working", type: .bigint, .notNull)
                .column("inbound_shipped", type: .bigint, .notNull)
                .column("inbound_receiving", type: .bigint, .notNull)
                .column("reserved", type: .bigint, .notNull)
                .column("researching", type: .bigint, .notNull)
                .column("unfulfillable", type: .bigint, .notNull)
                .column("total", type: .bigint, .notNull)
                .column("amazon_updated_at", type: .bigint)
                .column("updated_at", type: .bigint, .notNull)
                .primaryKey("connection_id", "marketplace_id", "merchant_sku")
                .run()
            // How far each marketplace's FBA stock has been read: Amazon's changes are asked for from `changed_since`
            // on; `full_at` is the last read of every SKU.
            try await database.create(table: "fba_watermarks")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("marketplace_id", type: .text, .notNull)
                .column("changed_since", type: .bigint, .notNull)
                .column("full_at", type: .bigint, .notNull)
                .primaryKey("connection_id", "marketplace_id")
                .run()
            // Inbound shipments to Amazon's fulfilment centres as the WMS's stock orders (purchase or transfer),
            // their lines as JSON; and how far each marketplace's inbound shipments have been read.
            try await database.create(table: "stock_orders")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("shipment_id", type: .text, .notNull)
                .column("name", type: .text)
                .column("marketplace_id", type: .text, .notNull)
                .column("type", type: .text, .notNull)
                .column("source_warehouse", type: .text)
                .column("destination_warehouse", type: .text, .notNull)
                .column("fulfillment_center", type: .text)
                .column("amazon_status", type: .text, .notNull)
                .column("state", type: .text, .notNull)
                .column("expected_at", type: .bigint)
                .column("lines", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .primaryKey("connection_id", "shipment_id")
                .run()
            try await database.create(index: "stock_orders_by_change").on("stock_orders").column("updated_at").run()
            try await database.create(table: "fba_inbound_watermarks")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("marketplace_id", type: .text, .notNull)
                .column("updated_after", type: .bigint, .notNull)
                .primaryKey("connection_id", "marketplace_id")
                .run()
        },
        Migration(version: 17, name: "Send to Amazon: inbound plans, their labels and the shipments they made") {
            database,
            _ in
            // One row per plan: its whole state (steps, options, choices, the operation in flight) as one JSON
            // document written in the transaction that moves it; the columns are what the worker and lists look by.
            try await database.create(table: "inbound_plans")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("reference", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("step", type: .text, .notNull)
                .column("due_at", type: .bigint, .notNull)
                .column("revision", type: .bigint, .notNull)
                .column("request", type: .text, .notNull)
                .column("document", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .unique("connection_id", "reference")
                .run()
            try await database.create(index: "inbound_plans_due").on("inbound_plans").column("connection_id")
                .column("due_at").run()
            try await database.create(index: "inbound_plans_by_change").on("inbound_plans").column("updated_at").run()
            // Amazon's label PDF of each confirmed shipment, base64, downloaded once.
            try await database.create(table: "inbound_plan_labels")
                .column("plan_id", type: .text, .notNull, .references("inbound_plans", "id", onDelete: .cascade))
                .column("shipment_id", type: .text, .notNull)
                .column("document", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .primaryKey("plan_id", "shipment_id")
                .run()
            // The shipments a plan confirmed, by the FBA… id their stock orders carry: the plan, the partnered
            // carrier's quote and the freight pick-up.
            try await database.create(table: "inbound_plan_shipments")
                .column("connection_id", type: .text, .notNull, .references("connections", "id", onDelete: .cascade))
                .column("confirmation_id", type: .text, .notNull)
                .column("plan_id", type: .text, .notNull)
                .column("carrier_fees", type: .text)
                .column("expected_at", type: .bigint)
                .primaryKey("connection_id", "confirmation_id")
                .run()
            try await database.raw("ALTER TABLE stock_orders ADD COLUMN inbound_plan_id TEXT").run()
            try await database.raw("ALTER TABLE stock_orders ADD COLUMN carrier_fees TEXT").run()
        },
        Migration(version: 18, name: "Nodes announce themselves with the key of the presence lock they hold") {
            database,
            _ in
            // Set on a node's own lease (node:<name>) when it holds PostgreSQL's advisory lock under that key while it
            // runs: another node that finds the lease valid but the lock gone knows the node died.
            try await database.raw("ALTER TABLE leases ADD COLUMN presence_key BIGINT").run()
        },
        Migration(
            version: 19,
            name:
                "A listings feed remembers a processing status Amazon added; a notified fetch counts its notifications"
        ) { database, _ in
            // To say an added status once, when the feed comes into it.
            try await database.raw("ALTER TABLE listing_feeds ADD COLUMN unknown_amazon_status TEXT").run()
            // A fetch is completed only if no notification was filed for the shipment while it ran.
            try await database.raw("ALTER TABLE shipment_fetches ADD COLUMN notifications BIGINT NOT NULL DEFAULT 0")
                .run()
        },
        Migration(
            version: 20,
            name: "Stock changes, commands and notified shipments keep the trace of the request that brought them"
        ) { database, _ in
            // The tracer's propagation fields as JSON (TraceContext.stored); NULL wherever tracing is off.
            for table in ["stock_levels", "inventory_items", "order_commands", "shipment_fetches"] {
                try await database.raw("ALTER TABLE \(unsafeRaw: table) ADD COLUMN trace_context TEXT").run()
            }
        },
        Migration(version: 21, name: "A notified MFN order keeps the trace of the notification that filed it") {
            database,
            _ in
            try await database.raw("ALTER TABLE merchant_order_fetches ADD COLUMN trace_context TEXT").run()
        },
        Migration(
            version: 22,
            name:
                "MFN listings' stock and prices, Send to Amazon plans and events keep the trace of the work that made them"
        ) { database, _ in
            for table in ["listing_items", "prices", "inbound_plans", "events"] {
                try await database.raw("ALTER TABLE \(unsafeRaw: table) ADD COLUMN trace_context TEXT").run()
            }
        },
        Migration(version: 23, name: "Connections say whether they send MFN stock, for stock writes to find them") {
            database,
            _ in
            // Every stock write looks for its account's connections that sum hubs for MFN listings; reading every
            // connection's settings for it cost a thousand rows a write at a thousand sellers.
            try await database.raw("ALTER TABLE connections ADD COLUMN sends_mfn_stock BIGINT NOT NULL DEFAULT 0").run()
            // Settings that are not JSON FlexBridge can read (edited by hand in the database) count as summing no hubs,
            // and do not stop the node from starting.
            for row in try await database.raw("SELECT id, settings FROM connections").all() {
                guard
                    let settings = try? JSONDecoder().decode(
                        ConnectionSettings.self,
                        from: Data(try row.decode(column: "settings", as: String.self).utf8)
                    ),
                    !settings.mfnStockHubs.isEmpty
                else { continue }
                try await database.raw(
                    """
                    UPDATE connections SET sends_mfn_stock = 1
                    WHERE id = \(bind: try row.decode(column: "id", as: String.self))
                    """
                ).run()
            }
            try await database.raw(
                "CREATE INDEX connections_sending_mfn_stock ON connections (account_id) WHERE sends_mfn_stock = 1"
            ).run()
        },
    ]
}
