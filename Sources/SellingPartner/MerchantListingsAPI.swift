import AmazonFeeds
import AmazonListings
import AsyncHTTPClient
import FlexCore
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import OpenAPIRuntime

/// Amazon's merchant-fulfilled listings as the MFN stock and price worker needs them: Listings Items 2021-08-01 for
/// one SKU at a time (seconds), Feeds 2021-06-30 for many (a JSON listings feed, minutes), in FlexCore's words.
public protocol MerchantListings: Sendable {
    /// Sends one listing's change by patchListingsItem: taken, or refused with Amazon's issues (nothing changed).
    func patchListing(
        _ update: ListingUpdate,
        sellerID: SellingPartnerID,
        marketplaceIDs: [MarketplaceID]
    )
        async throws -> ListingSubmission
    /// The listing as Amazon holds it; nil when Amazon knows no such SKU in the marketplaces.
    func listing(
        sku: MerchantSKU,
        sellerID: SellingPartnerID,
        marketplaceIDs: [MarketplaceID]
    ) async throws
        -> AmazonListing?
    /// The seller's listings of these ASINs (at most 20) in the marketplace.
    func listings(
        asins: [String],
        sellerID: SellingPartnerID,
        marketplaceID: MarketplaceID
    ) async throws
        -> [AmazonListing]
    /// The seller's listings of these SKUs (at most 20) in the marketplace; a SKU Amazon does not know is absent.
    func listings(
        skus: [MerchantSKU],
        sellerID: SellingPartnerID,
        marketplaceID: MarketplaceID
    ) async throws
        -> [AmazonListing]
    /// Submits a JSON listings feed: the document made, uploaded, and the feed created; the feed's id. Amazon's
    /// createFeed carries no idempotency key: a caller that lost the answer must not assume the feed was not made.
    func submitListingsFeed(_ document: Data, marketplaceIDs: [MarketplaceID]) async throws -> String
    /// A feed's status.
    func feed(_ feedID: String) async throws -> FeedStatus
    /// The JSON listings feeds created from `since` on, newest first.
    func listingsFeeds(since: Date) async throws -> [FeedStatus]
    /// A finished feed's processing report.
    func feedReport(documentID: String) async throws -> ListingsFeedReport
}

extension SellingPartnerClient: MerchantListings {
    static let jsonContentType = "application/json; charset=UTF-8"

    public func patchListing(
        _ update: ListingUpdate,
        sellerID: SellingPartnerID,
        marketplaceIDs: [MarketplaceID]
    ) async throws -> ListingSubmission {
        let patches = try ListingRules.patches(for: update).map { patch in
            AmazonListings.Components.Schemas.PatchOperation(
                op: patch.op,
                path: patch.path,
                value: try patch.value.map { values in
                    try values.map { value in
                        .init(
                            additionalProperties: try JSONDecoder().decode(
                                OpenAPIObjectContainer.self,
                                from: try JSONEncoder().encode(value)
                            )
                        )
                    }
                }
            )
        }
        let answer = try await listingsItems.patchListingsItem(
            path: .init(sellerId: sellerID.rawValue, sku: update.sku.rawValue),
            query: .init(marketplaceIds: marketplaceIDs.map(\.rawValue), includedData: [.issues]),
            body: .json(.init(productType: update.productType, patches: patches))
        ).ok.body.json
        let issues = (answer.issues ?? []).map {
            ListingIssue(code: $0.code, message: $0.message, severity: $0.severity, attribute: $0.attributeNames?.first)
        }
        return ListingSubmission(status: answer.status, submissionID: answer.submissionId, issues: issues)
    }

    public func listing(
        sku: MerchantSKU,
        sellerID: SellingPartnerID,
        marketplaceIDs: [MarketplaceID]
    ) async throws -> AmazonListing? {
        do {
            let item = try await listingsItems.getListingsItem(
                path: .init(sellerId: sellerID.rawValue, sku: sku.rawValue),
                query: .init(
                    marketplaceIds: marketplaceIDs.map(\.rawValue),
                    includedData: [.summaries, .offers, .fulfillmentAvailability]
                )
            ).ok.body.json
            return AmazonListing(item)
        } catch {
            if let amazon = error.sellingPartnerError as? AmazonAPIError, amazon.status == 404 { return nil }
            throw error
        }
    }

    public func listings(
        asins: [String],
        sellerID: SellingPartnerID,
        marketplaceID: MarketplaceID
    ) async throws -> [AmazonListing] {
        try await searchListings(asins, type: .asin, sellerID: sellerID, marketplaceID: marketplaceID)
    }

    public func listings(
        skus: [MerchantSKU],
        sellerID: SellingPartnerID,
        marketplaceID: MarketplaceID
    ) async throws -> [AmazonListing] {
        try await searchListings(skus.map(\.rawValue), type: .sku, sellerID: sellerID, marketplaceID: marketplaceID)
    }

    /// searchListingsItems by up to 20 identifiers of one type, every page read.
    func searchListings(
        _ identifiers: [String],
        type: AmazonListings.Operations.SearchListingsItems.Input.Query.IdentifiersTypePayload,
        sellerID: SellingPartnerID,
        marketplaceID: MarketplaceID
    ) async throws -> [AmazonListing] {
        guard !identifiers.isEmpty else { return [] }
        var found: [AmazonListing] = []
        var token: String?
        repeat {
            let page = try await listingsItems.searchListingsItems(
                path: .init(sellerId: sellerID.rawValue),
                query: .init(
                    marketplaceIds: [marketplaceID.rawValue],
                    includedData: [.summaries, .fulfillmentAvailability],
                    identifiers: Array(identifiers.prefix(20)),
                    identifiersType: type,
                    pageSize: 20,
                    pageToken: token
                )
            ).ok.body.json
            found += page.items.map(AmazonListing.init)
            token = page.pagination?.nextToken
        } while token != nil
        return found
    }

    public func submitListingsFeed(_ document: Data, marketplaceIDs: [MarketplaceID]) async throws -> String {
        let made = try await feeds.createFeedDocument(body: .json(.init(contentType: Self.jsonContentType)))
            .created.body.json
        try await upload(document, to: made.url, contentType: Self.jsonContentType)
        return try await feeds.createFeed(
            body: .json(
                .init(
                    feedType: "JSON_LISTINGS_FEED",
                    marketplaceIds: marketplaceIDs.map(\.rawValue),
                    inputFeedDocumentId: made.feedDocumentId
                )
            )
        ).accepted.body.json.feedId
    }

    public func feed(_ feedID: String) async throws -> FeedStatus {
        FeedStatus(try await feeds.getFeed(path: .init(feedId: feedID)).ok.body.json)
    }

    public func listingsFeeds(since: Date) async throws -> [FeedStatus] {
        var found: [FeedStatus] = []
        var token: String?
        repeat {
            let page = try await feeds.getFeeds(
                query: token == nil
                    ? .init(feedTypes: ["JSON_LISTINGS_FEED"], pageSize: 100, createdSince: since)
                    : .init(nextToken: token)
            ).ok.body.json
            found += page.feeds.map(FeedStatus.init)
            token = page.nextToken
        } while token != nil
        return found
    }

    public func feedReport(documentID: String) async throws -> ListingsFeedReport {
        let document = try await feeds.getFeedDocument(path: .init(feedDocumentId: documentID)).ok.body.json
        guard document.compressionAlgorithm == nil else {
            throw AmazonAPIError(
                operation: "getFeedDocument",
                status: 200,
                message:
                    "The report is compressed (\(document.compressionAlgorithm ?? "")), which FlexBridge does not read yet"
            )
        }
        return try ListingsFeedReport(json: try await download(document.url).data)
    }
}

extension AmazonListing {
    init(_ item: AmazonListings.Components.Schemas.Item) {
        let availability = item.fulfillmentAvailability?.first
        self.init(
            sku: MerchantSKU(rawValue: item.sku),
            asin: item.summaries?.first?.asin,
            productType: item.summaries?.first?.productType,
            fulfillmentChannel: availability?.fulfillmentChannelCode,
            quantity: availability?.quantity,
            updatedAt: item.summaries?.first?.lastUpdatedDate,
            prices: Dictionary(
                (item.offers ?? []).map { (MarketplaceID(rawValue: $0.marketplaceId), $0.price.amount) },
                uniquingKeysWith: { first, _ in first }
            )
        )
    }
}

extension FeedStatus {
    init(_ feed: AmazonFeeds.Components.Schemas.Feed) {
        self.init(
            feedID: feed.feedId,
            status: feed.processingStatus,
            createdAt: feed.createdTime,
            resultDocumentID: feed.resultFeedDocumentId
        )
    }
}
