// The types, client and server of this module are generated at build time by swift-openapi-generator from
// openapi.yaml, which scripts/derive-amazon-openapi derives from Amazon's model. Edit the script, never the YAML.

/// Amazon's Feeds API 2021-06-30 (feed documents, feeds, their processing reports), its enums open.
public enum AmazonFeedsAPI {
    /// The API version in Amazon's paths.
    public static let version = "2021-06-30"
}
