import AmazonFeeds
import Foundation

/// The schema types of Amazon's Feeds API 2021-06-30.
typealias FD = AmazonFeeds.Components.Schemas

/// Feeds as Amazon keeps them: documents uploaded to a signed URL, feeds queued and processed one at a time per
/// seller after a delay, each JSON listings feed's messages applied to the listings and answered by a processing
/// report.
struct FeedsWorld: Sendable, Codable {
    struct Feed: Sendable, Codable {
        var id: String
        var merchantID: String
        var feedType: String
        var marketplaceIDs: [String]
        var inputDocumentID: String
        var createdAt: Date
        var status: String
        var startedAt: Date?
        var endedAt: Date?
        var resultDocumentID: String?
        var messages: Int = 0
        var accepted: Int = 0
        var invalid: Int = 0
        var sequence: Int
    }

    struct Document: Sendable, Codable {
        var id: String
        var merchantID: String
        var contentType: String
        var data: Data?
        var createdAt: Date
    }

    var feeds: [String: Feed] = [:]
    var count = 0
    var documents: [String: Document] = [:]
    /// Feeds not yet finished, oldest first.
    var open: [String] = []
    var timing = FeedTiming()
}

/// How long Amazon takes over a feed: it waits in the queue, then takes a base time and a time per thousand
/// messages.
public struct FeedTiming: Sendable, Codable, Hashable {
    public var queueSeconds: Double
    public var baseSeconds: Double
    public var secondsPerThousandMessages: Double
    /// A feed of more messages than this ends FATAL as a whole, as Amazon ends a feed it cannot process (a test's
    /// knob; none by default).
    public var fatalAbove: Int?

    public init(
        queueSeconds: Double = 5,
        baseSeconds: Double = 10,
        secondsPerThousandMessages: Double = 1,
        fatalAbove: Int? = nil
    ) {
        self.queueSeconds = queueSeconds
        self.baseSeconds = baseSeconds
        self.secondsPerThousandMessages = secondsPerThousandMessages
        self.fatalAbove = fatalAbove
    }
}

extension Simulator {
    /// The feeds' timing (`PUT /_simulator/feed-processing`).
    public func setFeedTiming(_ timing: FeedTiming) throws(ControlError) {
        for value in [timing.queueSeconds, timing.baseSeconds, timing.secondsPerThousandMessages]
        where !(0...3600).contains(value) {
            throw ControlError("queueSeconds, baseSeconds and secondsPerThousandMessages must be 0 to 3600")
        }
        listings.feeds.timing = timing
    }

    /// How long a signed document URL works, as Amazon's do.
    static let documentURLLifetime: TimeInterval = 300

    /// A signed URL for a feed document: `upload` to PUT it, else to GET it.
    func documentURL(_ id: String, upload: Bool, contentType: String) -> String {
        let expires = Int(now().addingTimeInterval(Self.documentURLLifetime).timeIntervalSince1970)
        let signature = PageToken.digest("\(upload ? "PUT" : "GET")|\(id)|\(contentType)|\(expires)")
        return "\(RequestScope.baseURL)/_simulator/feed-documents/\(id)?expires=\(expires)&signature=\(signature)"
    }

    /// Why a signed request is refused, S3's way; nil when it may go on.
    func refusal(_ id: String, upload: Bool, contentType: String?, expires: String?, signature: String?) -> String? {
        guard let document = listings.feeds.documents[id] else { return "NoSuchKey" }
        guard let expires, let until = Int(expires), let signature else { return "AccessDenied" }
        guard PageToken.digest("\(upload ? "PUT" : "GET")|\(id)|\(document.contentType)|\(until)") == signature else {
            return "SignatureDoesNotMatch"
        }
        guard Double(until) >= now().timeIntervalSince1970 else { return "AccessDenied: Request has expired" }
        if upload, contentType != document.contentType { return "SignatureDoesNotMatch" }
        return nil
    }

    /// Stores an upload to a document's signed URL.
    func upload(_ id: String, data: Data) {
        listings.feeds.documents[id]?.data = data
    }

    /// A document's bytes and type, for a signed GET.
    func feedDocument(_ id: String) -> (contentType: String, data: Data)? {
        guard let document = listings.feeds.documents[id], let data = document.data else { return nil }
        return (document.contentType, data)
    }

    /// Puts a feed in any processing status, one Amazon's model does not have included (a value Amazon adds
    /// later): `POST /_simulator/feeds/{id}/status`. IN_QUEUE or IN_PROGRESS puts it back in the queue, to be
    /// processed as any other.
    public func forceFeedStatus(_ id: String, to status: String) throws(ControlError) {
        guard var feed = listings.feeds.feeds[id] else { throw ControlError("No feed with id \(id).", notFound: true) }
        guard !status.isEmpty, status.count <= 64 else { throw ControlError("status must be 1 to 64 characters") }
        // DONE carries a processing report, which only processing writes.
        guard status != "DONE" else { throw ControlError("DONE comes from processing: put the feed IN_QUEUE instead") }
        feed.status = status
        if status == "IN_PROGRESS" { feed.startedAt = now() }
        listings.feeds.feeds[id] = feed
        if ["IN_QUEUE", "IN_PROGRESS"].contains(status) {
            if !listings.feeds.open.contains(id) { listings.feeds.open.append(id) }
        } else {
            listings.feeds.open.removeAll { $0 == id }
        }
    }

    // MARK: Processing

    /// Moves feeds on: one at a time per seller, a queued feed starts when its queue time is over and no other of
    /// the seller's is in progress; a feed in progress finishes when its time is up, its messages applied.
    func settleFeeds() {
        guard !listings.feeds.open.isEmpty else { return }
        let now = now()
        let timing = listings.feeds.timing
        var busy: Set<String> = []
        for id in listings.feeds.open {
            guard var feed = listings.feeds.feeds[id] else { continue }
            if feed.status == "IN_PROGRESS" {
                let seconds = timing.baseSeconds + timing.secondsPerThousandMessages * Double(feed.messages) / 1000
                if let started = feed.startedAt, started.addingTimeInterval(seconds) <= now {
                    finish(&feed)
                    listings.feeds.feeds[id] = feed
                } else {
                    busy.insert(feed.merchantID)
                }
            }
        }
        for id in listings.feeds.open {
            guard var feed = listings.feeds.feeds[id], feed.status == "IN_QUEUE", !busy.contains(feed.merchantID),
                feed.createdAt.addingTimeInterval(timing.queueSeconds) <= now
            else { continue }
            feed.status = "IN_PROGRESS"
            feed.startedAt = now
            feed.messages = messageCount(feed)
            busy.insert(feed.merchantID)
            listings.feeds.feeds[id] = feed
        }
        let feeds = listings.feeds.feeds
        listings.feeds.open.removeAll { feeds[$0].map { !["IN_QUEUE", "IN_PROGRESS"].contains($0.status) } ?? true }
    }

    /// The messages a feed's document holds (for its processing time); 0 when it cannot be read.
    func messageCount(_ feed: FeedsWorld.Feed) -> Int {
        guard let data = listings.feeds.documents[feed.inputDocumentID]?.data,
            let document = try? JSONDecoder().decode(FeedEnvelope.self, from: data)
        else { return 0 }
        return document.messages?.count ?? 0
    }

    /// Only the message count of a feed, read cheaply.
    struct FeedEnvelope: Decodable {
        struct Message: Decodable {}
        var messages: [Message]?
    }

    /// Processes a feed: DONE with every message applied or refused by the report, or FATAL when the document as a
    /// whole cannot be processed; the report is stored and FEED_PROCESSING_FINISHED sent.
    func finish(_ feed: inout FeedsWorld.Feed) {
        var issues: [JSONNode] = []
        var accepted = 0
        var invalid = 0
        var processed = 0
        var fatal: String?
        let data = listings.feeds.documents[feed.inputDocumentID]?.data ?? Data()
        if let document = try? JSONDecoder().decode(JSONNode.self, from: data), let header = document["header"] {
            let messages = document["messages"]?.array ?? []
            if header["sellerId"]?.string != feed.merchantID {
                fatal = "header.sellerId must be the seller who submits the feed (\(feed.merchantID))"
            } else if header["version"]?.string != "2.0" {
                fatal = "header.version must be 2.0"
            } else if messages.isEmpty || messages.count > 25_000 {
                fatal = "messages must hold 1 to 25000 messages, got \(messages.count)"
            } else if let most = listings.feeds.timing.fatalAbove, messages.count > most {
                fatal = "The feed could not be processed (the simulator ends feeds of more than \(most) messages FATAL)"
            } else {
                var seen: Set<Int> = []
                // Every message of the feed takes effect at one moment: one stamp for all, so that a feed of
                // 25,000 messages does not push the simulator's stamps 25 seconds ahead of its clock.
                let at = world.stamp(now())
                for message in messages {
                    processed += 1
                    let id = message["messageId"]?.wholeNumber
                    let sku = message["sku"]?.string ?? ""
                    var found: [ListingIssue] = []
                    if let id, (1...2_147_483_647).contains(id), seen.insert(id).inserted {
                        found = apply(message, sku: sku, feed: feed, at: at)
                    } else {
                        found = [
                            ListingIssue(
                                code: "4000000",
                                message: "messageId must be a whole number from 1 to 2147483647, unique in the feed",
                                category: "INVALID_ATTRIBUTE"
                            )
                        ]
                    }
                    if found.contains(where: { $0.severity == "ERROR" }) { invalid += 1 } else { accepted += 1 }
                    for issue in found {
                        var entry: [String: JSONNode] = [
                            "code": .string(issue.code), "severity": .string(issue.severity),
                            "message": .string(issue.message),
                        ]
                        if let id { entry["messageId"] = .number(Decimal(id)) }
                        if !sku.isEmpty { entry["sku"] = .string(sku) }
                        if let attribute = issue.attributeName { entry["attributeName"] = .string(attribute) }
                        issues.append(.object(entry))
                    }
                }
            }
        } else {
            fatal = "The feed document is not a JSON listings feed with a header and messages"
        }
        if let fatal {
            issues = [.object(["code": .string("4000003"), "severity": .string("ERROR"), "message": .string(fatal)])]
        }
        let errors = issues.filter { $0["severity"]?.string == "ERROR" }.count
        let report: JSONNode = .object([
            "header": .object([
                "sellerId": .string(feed.merchantID), "version": .string("2.0"), "feedId": .string(feed.id),
            ]),
            "issues": .array(issues),
            "summary": .object([
                "errors": .number(Decimal(errors)), "warnings": .number(Decimal(issues.count - errors)),
                "messagesProcessed": .number(Decimal(processed)), "messagesAccepted": .number(Decimal(accepted)),
                "messagesInvalid": .number(Decimal(invalid)),
            ]),
        ])
        let resultID = "amzn1.tortuga.4.sim.\(UUID().uuidString.lowercased())"
        listings.feeds.documents[resultID] = .init(
            id: resultID,
            merchantID: feed.merchantID,
            contentType: "application/json",
            data: Data(report.text.utf8),
            createdAt: now()
        )
        feed.status = fatal == nil ? "DONE" : "FATAL"
        feed.endedAt = now()
        feed.resultDocumentID = resultID
        feed.accepted = accepted
        feed.invalid = invalid
        feed.messages = processed
        notifyFeedFinished(feed)
    }

    /// Applies one message of a JSON listings feed; its issues (none when it applied).
    func apply(_ message: JSONNode, sku: String, feed: FeedsWorld.Feed, at: Date) -> [ListingIssue] {
        guard !sku.isEmpty else { return [.invalid("sku", "sku is required")] }
        let operation = message["operationType"]?.string ?? ""
        let key = ListingsWorld.key(feed.merchantID, sku)
        let before = listings.listings[key]
        let productType = message["productType"]?.string
        switch operation {
        case "PATCH":
            guard let productType, !productType.isEmpty else {
                return [.invalid("productType", "productType is required for PATCH")]
            }
            guard message["attributes"] == nil, message["requirements"] == nil else {
                return [.invalid("attributes", "PATCH takes patches, not attributes or requirements")]
            }
            guard let patches = message["patches"]?.array, !patches.isEmpty else {
                return [.invalid("patches", "PATCH needs at least one patch")]
            }
            guard var listing = before, listing.marketplaceIDs.contains(where: feed.marketplaceIDs.contains) else {
                return [.unknownSKU(sku)]
            }
            let parsed = patches.map { patch in
                ListingPatch(
                    op: patch["op"]?.string ?? "",
                    path: patch["path"]?.string ?? "",
                    value: patch["value"]?.array?.map { $0.object ?? [:] }
                )
            }
            let issues = ListingRules.apply(parsed, to: &listing, marketplaces: feed.marketplaceIDs)
            guard issues.isEmpty else { return issues }
            listing.productType = productType
            record(listing, before: before, by: "feed:\(feed.id)", at: at)
            return []
        case "UPDATE", "PARTIAL_UPDATE":
            guard let productType, !productType.isEmpty else {
                return [.invalid("productType", "productType is required for \(operation)")]
            }
            guard let attributes = message["attributes"]?.object, !attributes.isEmpty, message["patches"] == nil
            else { return [.invalid("attributes", "\(operation) takes attributes (at least one), not patches")] }
            if operation == "PARTIAL_UPDATE", before == nil { return [.unknownSKU(sku)] }
            let now = at
            var listing =
                before
                ?? ListingsWorld.Listing(
                    sku: sku,
                    merchantID: feed.merchantID,
                    marketplaceIDs: feed.marketplaceIDs,
                    productType: productType,
                    asin: Self.asin(for: sku),
                    fulfillmentChannel: "DEFAULT",
                    offers: [],
                    otherAttributes: [:],
                    createdAt: now,
                    updatedAt: now,
                    setBy: "feed:\(feed.id)",
                    changes: 0,
                    sequence: listings.count + 1
                )
            if operation == "UPDATE", before != nil {
                listing.otherAttributes = [:]
                listing.quantity = nil
                listing.handlingTime = nil
                listing.offers = []
            }
            listing.marketplaceIDs = Array(Set(listing.marketplaceIDs).union(feed.marketplaceIDs)).sorted()
            let patches = attributes.sorted { $0.key < $1.key }.map { name, value in
                ListingPatch(op: "replace", path: "/attributes/\(name)", value: value.array?.map { $0.object ?? [:] })
            }
            let issues = ListingRules.apply(patches, to: &listing, marketplaces: feed.marketplaceIDs)
            guard issues.isEmpty else { return issues }
            if before == nil { listings.count += 1 }
            listing.productType = productType
            record(listing, before: before, by: "feed:\(feed.id)", at: at)
            return []
        case "DELETE":
            guard message["attributes"] == nil, message["patches"] == nil, message["productType"] == nil else {
                return [.invalid("operationType", "DELETE takes only the SKU")]
            }
            listings.listings[key] = nil
            return []
        default:
            return [
                .invalid(
                    "operationType",
                    "operationType must be UPDATE, PARTIAL_UPDATE, PATCH or DELETE, got \(operation)"
                )
            ]
        }
    }

    /// FEED_PROCESSING_FINISHED to every destination, in Amazon's schema.
    func notifyFeedFinished(_ feed: FeedsWorld.Feed) {
        push("FEED_PROCESSING_FINISHED", subject: feed.id, status: feed.status) {
            time,
            subscriptionID,
            notificationID in
            var finished: [String: Any] = [
                "sellerId": feed.merchantID, "accountId": "amzn1.merchant.o.\(feed.merchantID)", "feedId": feed.id,
                "feedType": feed.feedType, "processingStatus": feed.status,
            ]
            if let result = feed.resultDocumentID { finished["resultFeedDocumentId"] = result }
            return [
                "notificationVersion": "2020-09-04",
                "notificationType": "FEED_PROCESSING_FINISHED",
                "payloadVersion": "2020-09-04",
                "eventTime": time,
                "payload": ["feedProcessingFinishedNotification": finished],
                "notificationMetadata": [
                    "applicationId": configuration.clientID,
                    "subscriptionId": subscriptionID,
                    "publishTime": time,
                    "notificationId": notificationID,
                ],
            ]
        }
    }

    func feedSchema(_ feed: FeedsWorld.Feed) -> FD.Feed {
        FD.Feed(
            feedId: feed.id,
            feedType: feed.feedType,
            marketplaceIds: feed.marketplaceIDs,
            createdTime: feed.createdAt,
            processingStatus: feed.status,
            processingStartTime: feed.startedAt,
            processingEndTime: feed.endedAt,
            resultFeedDocumentId: feed.resultDocumentID
        )
    }

    /// The caller's feed, or Amazon's 404.
    func ownFeed(_ id: String, _ merchantID: String) throws(AmazonError) -> FeedsWorld.Feed {
        guard let feed = listings.feeds.feeds[id], feed.merchantID == merchantID else {
            throw AmazonError(status: 404, code: "NotFound", message: "The feed \(id) was not found")
        }
        return feed
    }
}

/// The feed types this simulator processes.
let processedFeedTypes: Set<String> = ["JSON_LISTINGS_FEED"]

extension Simulator: AmazonFeeds.APIProtocol {
    public func createFeedDocument(
        _ input: AmazonFeeds.Operations.CreateFeedDocument.Input
    ) async throws -> AmazonFeeds.Operations.CreateFeedDocument.Output {
        let merchantID = try RequestScope.merchant()
        guard case .json(let body) = input.body, !body.contentType.isEmpty, body.contentType.count <= 256 else {
            throw AmazonError(status: 400, code: "InvalidInput", message: "contentType is required")
        }
        let id = "amzn1.tortuga.4.sim.\(UUID().uuidString.lowercased())"
        listings.feeds.documents[id] = .init(
            id: id,
            merchantID: merchantID,
            contentType: body.contentType,
            createdAt: now()
        )
        return .created(
            .init(
                body: .json(
                    .init(feedDocumentId: id, url: documentURL(id, upload: true, contentType: body.contentType))
                )
            )
        )
    }

    public func createFeed(
        _ input: AmazonFeeds.Operations.CreateFeed.Input
    ) async throws -> AmazonFeeds.Operations.CreateFeed.Output {
        let merchantID = try RequestScope.merchant()
        settleFeeds()
        guard case .json(let body) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        guard processedFeedTypes.contains(body.feedType) else {
            throw AmazonError.invalidInput(
                "feedType \(body.feedType) is not processed by this simulator; it takes \(processedFeedTypes.sorted().joined(separator: ", "))"
            )
        }
        guard (1...25).contains(body.marketplaceIds.count), body.marketplaceIds.allSatisfy({ !$0.isEmpty }) else {
            throw AmazonError.invalidInput("marketplaceIds must hold 1 to 25 marketplaces")
        }
        guard let document = listings.feeds.documents[body.inputFeedDocumentId], document.merchantID == merchantID
        else {
            throw AmazonError.invalidInput("inputFeedDocumentId \(body.inputFeedDocumentId) names no document of yours")
        }
        guard document.data != nil else {
            throw AmazonError.invalidInput(
                "The document \(body.inputFeedDocumentId) was not uploaded: PUT it to its URL before createFeed"
            )
        }
        listings.feeds.count += 1
        let id = "\(50_000_000_000 + listings.feeds.count)"
        listings.feeds.feeds[id] = .init(
            id: id,
            merchantID: merchantID,
            feedType: body.feedType,
            marketplaceIDs: body.marketplaceIds,
            inputDocumentID: body.inputFeedDocumentId,
            createdAt: now(),
            status: "IN_QUEUE",
            sequence: listings.feeds.count
        )
        listings.feeds.open.append(id)
        return .accepted(.init(body: .json(.init(feedId: id))))
    }

    public func getFeed(
        _ input: AmazonFeeds.Operations.GetFeed.Input
    ) async throws -> AmazonFeeds.Operations.GetFeed.Output {
        let merchantID = try RequestScope.merchant()
        settleFeeds()
        return .ok(.init(body: .json(feedSchema(try ownFeed(input.path.feedId, merchantID)))))
    }

    public func cancelFeed(
        _ input: AmazonFeeds.Operations.CancelFeed.Input
    ) async throws -> AmazonFeeds.Operations.CancelFeed.Output {
        let merchantID = try RequestScope.merchant()
        settleFeeds()
        var feed = try ownFeed(input.path.feedId, merchantID)
        guard feed.status == "IN_QUEUE" else {
            throw AmazonError.invalidInput(
                "The feed \(feed.id) is \(feed.status); only a feed IN_QUEUE can be cancelled"
            )
        }
        feed.status = "CANCELLED"
        feed.endedAt = now()
        listings.feeds.feeds[feed.id] = feed
        listings.feeds.open.removeAll { $0 == feed.id }
        notifyFeedFinished(feed)
        return .ok(.init())
    }

    public func getFeeds(
        _ input: AmazonFeeds.Operations.GetFeeds.Input
    ) async throws -> AmazonFeeds.Operations.GetFeeds.Output {
        let merchantID = try RequestScope.merchant()
        settleFeeds()
        let query = input.query
        if query.nextToken != nil {
            guard query.feedTypes == nil, query.marketplaceIds == nil, query.pageSize == nil,
                query.processingStatuses == nil, query.createdSince == nil, query.createdUntil == nil
            else { throw AmazonError.invalidInput("nextToken must be the only parameter when it is given") }
        } else if (query.feedTypes ?? []).isEmpty {
            throw AmazonError.invalidInput("feedTypes or nextToken is required")
        }
        var start = 0
        var size = query.pageSize ?? 10
        var types = Set(query.feedTypes ?? [])
        var marketplaces = Set(query.marketplaceIds ?? [])
        var statuses = Set((query.processingStatuses ?? []).map(\.rawValue))
        var since = query.createdSince ?? now().addingTimeInterval(-90 * 86_400)
        // Now, or the latest stamp handed out if that is later (stamps are a millisecond apart at least).
        var until = query.createdUntil ?? max(now(), world.lastStamp)
        if let token = query.nextToken {
            // The token carries the query it continues.
            guard let data = Data(base64Encoded: token),
                let saved = try? JSONDecoder().decode(FeedQuery.self, from: data)
            else {
                throw AmazonError.invalidInput("Invalid input for parameter nextToken: not a token this API issued")
            }
            (start, size, types, marketplaces, statuses, since, until) = (
                saved.start, saved.size, saved.types, saved.marketplaces, saved.statuses, saved.since, saved.until
            )
        } else {
            guard (1...100).contains(size) else {
                throw AmazonError.invalidInput("Invalid input \(size) for parameter pageSize: must be 1 to 100")
            }
        }
        let found = listings.feeds.feeds.values.filter { feed in
            feed.merchantID == merchantID && types.contains(feed.feedType)
                && (marketplaces.isEmpty || feed.marketplaceIDs.contains(where: marketplaces.contains))
                && (statuses.isEmpty || statuses.contains(feed.status)) && feed.createdAt >= since
                && feed.createdAt <= until
        }.sorted { $0.sequence > $1.sequence }
        let page = found.dropFirst(start).prefix(size)
        let next: String? =
            start + size < found.count
            ? (try? JSONEncoder().encode(
                FeedQuery(
                    start: start + size,
                    size: size,
                    types: types,
                    marketplaces: marketplaces,
                    statuses: statuses,
                    since: since,
                    until: until
                )
            ))?.base64EncodedString() : nil
        return .ok(.init(body: .json(.init(feeds: page.map(feedSchema), nextToken: next))))
    }

    struct FeedQuery: Codable {
        var start: Int
        var size: Int
        var types: Set<String>
        var marketplaces: Set<String>
        var statuses: Set<String>
        var since: Date
        var until: Date
    }

    public func getFeedDocument(
        _ input: AmazonFeeds.Operations.GetFeedDocument.Input
    ) async throws -> AmazonFeeds.Operations.GetFeedDocument.Output {
        let merchantID = try RequestScope.merchant()
        settleFeeds()
        let id = input.path.feedDocumentId
        guard let document = listings.feeds.documents[id], document.merchantID == merchantID, document.data != nil
        else { throw AmazonError(status: 404, code: "NotFound", message: "The feed document \(id) was not found") }
        return .ok(
            .init(
                body: .json(
                    .init(feedDocumentId: id, url: documentURL(id, upload: false, contentType: document.contentType))
                )
            )
        )
    }
}
