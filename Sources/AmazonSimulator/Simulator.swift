import Foundation
import Logging

/// A stateful Amazon for FlexBridge's tests, demos and benchmarks: Login with Amazon, the External Fulfillment
/// APIs and Amazon's sandbox operations over the same models, with Amazon's throttling, and a control surface for
/// what Amazon's sandbox lacks (returns, notifications, faults, an order generator, ground truth).
///
/// All state lives in this actor, so every request sees and leaves a whole world.
public actor Simulator {
    public enum LabelFormat: String, Sendable, Codable, CaseIterable {
        case pdf = "PDF"
        case zpl = "ZPL"
    }

    /// How the simulator behaves.
    public struct Configuration: Sendable {
        /// The test application's Login with Amazon credentials.
        public var clientID: String
        public var clientSecret: String
        /// Answer 429 as Amazon does when a seller exceeds an operation's rate.
        public var throttling: Bool
        /// Rate limits per operation; Amazon's defaults unless changed.
        public var rateLimits: [String: RateLimit]
        /// Faults injected into every operation (per-operation settings override it).
        public var faults: FaultSettings
        /// The format of shipping labels: PDF or ZPL.
        public var labelFormat: LabelFormat

        public init(
            clientID: String = "amzn1.application-oa2-client.flexbridge-simulator",
            clientSecret: String = "simulator-client-secret",
            throttling: Bool = true,
            rateLimits: [String: RateLimit] = RateLimit.amazonDefaults,
            faults: FaultSettings = FaultSettings(),
            labelFormat: LabelFormat = .pdf
        ) {
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.throttling = throttling
            self.rateLimits = rateLimits
            self.faults = faults
            self.labelFormat = labelFormat
        }
    }

    let clock: SimulatorClock
    let logger: Logger
    var configuration: Configuration
    var lwa = LoginWithAmazon()
    var world = World()
    var mfn = MFNWorld()
    var listings = ListingsWorld()
    var fba = FBAWorld()
    var inboundPlans = InboundPlansWorld()
    var buckets: [String: TokenBucket] = [:]
    var operationFaults: [String: FaultSettings] = [:]
    var requests: [RecordedRequest] = []
    var random = SystemRandomNumberGenerator()
    var notificationDestinations: [NotificationDestination] = []
    var notifier: Notifier?
    var orderGenerator: OrderGeneratorSettings?
    var generatorCredit = 0.0
    var mfnGenerator: MFNGeneratorSettings?
    var mfnGeneratorCredit = 0.0

    public init(
        configuration: Configuration = Configuration(),
        clock: SimulatorClock = .system,
        logger: Logger = Logger(label: "amazon.simulator")
    ) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        lwa.applications[configuration.clientID] = .init(
            clientID: configuration.clientID,
            clientSecret: configuration.clientSecret
        )
    }

    // MARK: Saved state

    /// What Amazon knows (locations, catalogues, stock, shipments, returns, documents, inbound plans) and Login with
    /// Amazon's applications and grants, as JSON: a simulator restored from it answers a FlexBridge that kept its own
    /// state (the demo's second run) as the same Amazon. Throttling buckets, faults, notification destinations and the
    /// order generator are the running process's and are not saved.
    public func savedState() throws -> Data {
        try JSONEncoder().encode(
            SavedState(world: world, lwa: lwa, mfn: mfn, listings: listings, fba: fba, inboundPlans: inboundPlans)
        )
    }

    /// Takes up a state ``savedState()`` wrote.
    public func restore(_ data: Data) throws {
        let saved = try JSONDecoder().decode(SavedState.self, from: data)
        world = saved.world
        lwa = saved.lwa
        mfn = saved.mfn ?? MFNWorld()
        listings = saved.listings ?? ListingsWorld()
        fba = saved.fba ?? FBAWorld()
        inboundPlans = saved.inboundPlans ?? InboundPlansWorld()
        lwa.applications[configuration.clientID] = .init(
            clientID: configuration.clientID,
            clientSecret: configuration.clientSecret
        )
    }

    struct SavedState: Codable {
        var world: World
        var lwa: LoginWithAmazon
        /// Absent from states saved before the simulator knew MFN orders.
        var mfn: MFNWorld?
        /// Absent from states saved before the simulator knew listings and feeds.
        var listings: ListingsWorld?
        /// Absent from states saved before the simulator knew FBA stock.
        var fba: FBAWorld?
        /// Absent from states saved before the simulator knew Send to Amazon.
        var inboundPlans: InboundPlansWorld?
    }

    // MARK: Login with Amazon

    /// Handles `POST /auth/o2/token`.
    func token(form: [String: String]) throws(LoginWithAmazon.TokenError) -> LoginWithAmazon.Tokens {
        try lwa.token(form: form, now: clock.now())
    }

    /// The seller consented on the consent page: a one-time code for the application.
    func consent(applicationID: String, merchantID: String, redirectURI: String?) throws(ControlError) -> String {
        // Amazon's consent link names the app's solution id (amzn1.sp.solution…); the simulator also takes its
        // LWA client id, as a registered application without a solution id.
        guard
            let clientID = lwa.solutions[applicationID]
                ?? (lwa.applications[applicationID] != nil ? applicationID : nil)
        else {
            throw ControlError(
                "No application with id \(applicationID) is registered with this simulator (POST /_simulator/applications registers one)."
            )
        }
        guard !merchantID.isEmpty else { throw ControlError("A selling partner id is required to consent.") }
        return lwa.issueCode(clientID: clientID, merchantID: merchantID, redirectURI: redirectURI, now: clock.now())
    }

    /// Registers an application (`POST /_simulator/applications`): its LWA client id and secret, and the solution id
    /// its consent links name. Registering a client id again changes its secret.
    public func registerApplication(clientID: String, clientSecret: String, applicationID: String?) throws(ControlError)
    {
        guard !clientID.isEmpty, clientID.count <= 200 else {
            throw ControlError("clientId must be 1 to 200 characters")
        }
        guard clientSecret.count >= 8, clientSecret.count <= 200 else {
            throw ControlError("clientSecret must be 8 to 200 characters")
        }
        if let applicationID {
            guard !applicationID.isEmpty, applicationID.count <= 200 else {
                throw ControlError("applicationId must be 1 to 200 characters")
            }
            lwa.solutions[applicationID] = clientID
        }
        lwa.applications[clientID] = .init(clientID: clientID, clientSecret: clientSecret)
    }

    /// Mints a refresh token for a merchant without the browser flow (`POST /_simulator/authorizations`).
    public func authorize(merchantID: String, clientID: String? = nil) throws(ControlError) -> String {
        let client = clientID ?? configuration.clientID
        guard lwa.applications[client] != nil else {
            throw ControlError("No application with id \(client) is registered.")
        }
        guard !merchantID.isEmpty else { throw ControlError("merchantId must not be empty") }
        return lwa.mintRefreshToken(clientID: client, merchantID: merchantID)
    }

    /// Revokes a refresh token, as a seller removing the app's authorisation would.
    public func revoke(refreshToken: String) throws(ControlError) {
        guard lwa.refreshTokens[refreshToken] != nil else { throw ControlError("No such refresh token.") }
        lwa.refreshTokens[refreshToken]?.revoked = true
    }

    /// The merchant an API call acts for, or Amazon's 403.
    func authenticate(accessToken: String?) throws(AmazonError) -> String {
        switch lwa.merchant(forAccessToken: accessToken, now: clock.now()) {
        case .success(let merchant): return merchant
        case .failure(let denial): throw AmazonError.unauthorized(denial.details)
        }
    }

    // MARK: Throttling and faults

    /// Takes a token from the seller's bucket for the operation, or throws Amazon's 429.
    /// Returns the rate to report in `x-amzn-RateLimit-Limit`.
    func admit(operation: String, merchantID: String) throws(AmazonError) -> Double? {
        guard let limit = configuration.rateLimits[operation] else { return nil }
        guard configuration.throttling else { return limit.rate }
        let key = "\(merchantID)|\(operation)"
        let now = clock.seconds()
        var bucket = buckets[key] ?? TokenBucket(rate: limit.rate, burst: limit.burst, now: now)
        let admitted = bucket.take(now: now)
        buckets[key] = bucket
        guard admitted else { throw AmazonError.throttled }
        return limit.rate
    }

    /// The fault to inject into this request, drawn by the operation's settings.
    func drawFault(operation: String) -> (FaultDecision, latencyMilliseconds: Int) {
        let settings = operationFaults[operation] ?? configuration.faults
        return (settings.draw(using: &random), settings.latencyMilliseconds)
    }

    /// Sets faults for one operation, or for all when `operation` is nil.
    public func setFaults(_ settings: FaultSettings, operation: String?) throws(ControlError) {
        try settings.validate()
        if let operation {
            guard RateLimit.amazonDefaults[operation] != nil else {
                throw ControlError("Unknown operation \(operation)")
            }
            operationFaults[operation] = settings
        } else {
            configuration.faults = settings
            operationFaults.removeAll()
        }
    }

    /// Changes an operation's rate limit; its buckets start again full.
    public func setRateLimit(_ limit: RateLimit, operation: String) throws(ControlError) {
        guard RateLimit.amazonDefaults[operation] != nil else { throw ControlError("Unknown operation \(operation)") }
        guard limit.rate > 0, limit.burst >= 1 else { throw ControlError("rate must be above 0 and burst at least 1") }
        configuration.rateLimits[operation] = limit
        buckets = buckets.filter { !$0.key.hasSuffix("|\(operation)") }
    }

    /// Switches throttling on or off for every operation.
    public func setThrottling(_ enabled: Bool) {
        configuration.throttling = enabled
        buckets.removeAll()
    }

    // MARK: The request log

    func record(_ request: RecordedRequest) {
        var request = request
        request.sequence = requests.count + 1
        requests.append(request)
    }

    /// Every request received, oldest first, optionally after a sequence number.
    public func recordedRequests(after: Int = 0) -> [RecordedRequest] {
        // Sequence numbers count from 1 in the order of the log, so the newer ones are a tail of it.
        Array(requests[min(requests.count, max(0, after))...])
    }

    /// How many requests the log holds.
    public var recordedRequestCount: Int { requests.count }

    func now() -> Date { clock.now() }
}
