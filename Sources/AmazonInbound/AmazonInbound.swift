// The types, client and server of this module are generated at build time by swift-openapi-generator from
// openapi.yaml, which scripts/derive-amazon-openapi derives from Amazon's model. Edit the script, never the YAML.

/// Amazon's Fulfillment Inbound API 2024-03-20, the operations of "Send to Amazon" (a plan, its packing, placement,
/// transportation and delivery windows, each step an operation to poll), its enums open.
public enum AmazonInboundAPI {
    /// The API version in Amazon's paths.
    public static let version = "2024-03-20"
}
