// The types, client and server of this module are generated at build time by swift-openapi-generator from
// openapi.yaml, which scripts/derive-amazon-openapi derives from Amazon's model. Edit the script, never the YAML.

/// Amazon's FBA Inventory API v1 (getInventorySummaries: FBA stock per marketplace with its breakdown), its enums
/// open.
public enum AmazonFBAInventoryAPI {
    /// The API version in Amazon's paths.
    public static let version = "v1"
}
