// The types, client and server of this module are generated at build time by swift-openapi-generator from
// openapi.yaml, which scripts/derive-amazon-openapi derives from Amazon's model. Edit the script, never the YAML.

/// Amazon's External Fulfillment Returns API.
public enum AmazonEFReturnsAPI {
    /// The API version in Amazon's paths.
    public static let version = "2024-09-11"
}
