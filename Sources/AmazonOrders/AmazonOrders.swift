// The types, client and server of this module are generated at build time by swift-openapi-generator from
// openapi.yaml, which scripts/derive-amazon-openapi derives from Amazon's model. Edit the script, never the YAML.

/// Amazon's Orders API 2026-01-01 (searchOrders, getOrder), its enums open: a value Amazon adds later decodes.
public enum AmazonOrdersAPI {
    /// The API version in Amazon's paths.
    public static let version = "2026-01-01"
}
