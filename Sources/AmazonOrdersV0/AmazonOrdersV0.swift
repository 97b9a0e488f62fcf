// The types, client and server of this module are generated at build time by swift-openapi-generator from
// openapi.yaml, which scripts/derive-amazon-openapi derives from Amazon's model. Edit the script, never the YAML.

/// Amazon's Orders API v0, reduced to the operation that is still current: confirmShipment.
public enum AmazonOrdersV0API {
    /// The API version in Amazon's paths.
    public static let version = "v0"
}
