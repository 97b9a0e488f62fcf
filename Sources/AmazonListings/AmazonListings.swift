// The types, client and server of this module are generated at build time by swift-openapi-generator from
// openapi.yaml, which scripts/derive-amazon-openapi derives from Amazon's model. Edit the script, never the YAML.

/// Amazon's Listings Items API 2021-08-01 (getListingsItem, patchListingsItem, searchListingsItems), its enums open.
public enum AmazonListingsAPI {
    /// The API version in Amazon's paths.
    public static let version = "2021-08-01"
}
