// The types, client and server of this module are generated at build time by swift-openapi-generator from
// openapi.yaml, which scripts/derive-amazon-openapi derives from Amazon's model. Edit the script, never the YAML.

/// Amazon's Fulfillment Inbound API v0, its reads of inbound shipments (getShipments,
/// getShipmentItemsByShipmentId), its enums open.
public enum AmazonInboundV0API {
    /// The API version in Amazon's paths.
    public static let version = "v0"
}
