// The types and server protocol of this module are generated at build time by swift-openapi-generator from
// openapi.yaml: FlexBridge's API contract. FlexAPI implements the protocol.

/// FlexBridge's own API, as its OpenAPI document describes it.
public enum FlexBridgeAPIDocument {
    /// The path every operation of the API starts with.
    public static let basePath = "/api/v1"
}
