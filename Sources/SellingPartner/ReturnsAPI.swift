import AmazonEFReturns
import FlexCore
import Foundation

/// Amazon's External Fulfillment returns API (reads only, as Amazon offers) as the return worker needs it, in
/// FlexCore's words.
public protocol ExternalFulfillmentReturns: Sendable {
    /// One page of the returns to a return location: created since `createdSince`, or — with `status` — updated
    /// since `updatedSince` and now in that status (Amazon takes `lastUpdatedSince` only with a location and a
    /// status).
    func returns(
        locationID: LocationID,
        status: ReturnStatus?,
        createdSince: Date?,
        updatedSince: Date?,
        pageSize: Int,
        nextToken: String?
    ) async throws -> ReturnPage
    /// The return as Amazon holds it now.
    func amazonReturn(_ id: ReturnID) async throws -> AmazonReturn
}

/// A return of Amazon's that cannot be read (an unreadable date): it cannot be weighed against another copy, so it
/// is not taken.
public struct UnreadableReturn: Error, CustomStringConvertible {
    public var returnID: String
    public var field: String
    public var description: String { "Amazon's return \(returnID) has an unreadable \(field)" }
}

extension SellingPartnerClient: ExternalFulfillmentReturns {
    public func returns(
        locationID: LocationID,
        status: ReturnStatus?,
        createdSince: Date?,
        updatedSince: Date?,
        pageSize: Int,
        nextToken: String?
    ) async throws -> ReturnPage {
        typealias Query = AmazonEFReturns.Operations.ListReturns.Input.Query
        let status = try status.map { status in
            guard let known = Query.StatusPayload(rawValue: status.rawValue) else {
                throw UnreadableReturn(returnID: "-", field: "status \(status.rawValue) is not one Amazon lists by")
            }
            return known
        }
        let page = try await returns.listReturns(
            query: .init(
                returnLocationId: locationID.rawValue,
                status: status,
                createdSince: createdSince,
                lastUpdatedSince: updatedSince,
                maxResults: Int64(pageSize),
                nextToken: nextToken
            )
        ).ok.body.json
        return ReturnPage(returns: try (page.returns ?? []).map(AmazonReturn.init), nextToken: page.nextToken)
    }

    public func amazonReturn(_ id: ReturnID) async throws -> AmazonReturn {
        try AmazonReturn(try await returns.getReturn(path: .init(returnId: id.rawValue)).ok.body.json)
    }
}

extension AmazonReturn {
    /// FlexCore's view of Amazon's return document.
    public init(_ item: AmazonEFReturns.Components.Schemas.Return) throws {
        guard let updated = Order.parseTimestamp(item.lastUpdatedDateTime) else {
            throw UnreadableReturn(returnID: item.id, field: "lastUpdatedDateTime")
        }
        let channel = item.marketplaceChannelDetails
        let shipping = item.returnShippingInfo
        func tracking(_ info: AmazonEFReturns.Components.Schemas.TrackingInfo?) -> Tracking? {
            info.map { Tracking(carrierName: $0.carrierName, trackingID: $0.trackingId) }
        }
        let facts = ReturnFacts(
            id: ReturnID(rawValue: item.id),
            returnLocationID: LocationID(
                rawValue: item.returnLocationId ?? channel.returnLocationId ?? item.fulfillmentLocationId
            ),
            fulfillmentLocationID: LocationID(rawValue: item.fulfillmentLocationId),
            merchantSKU: MerchantSKU(rawValue: item.merchantSku ?? channel.channelSku ?? ""),
            units: Int(item.numberOfUnits ?? 1),
            status: item.status,
            returnType: item.returnType,
            returnSubType: item.returnSubType,
            reason: item.returnMetadata.returnReason,
            rmaID: item.returnMetadata.rmaId,
            shipmentID: channel.shipmentId.map(ShipmentID.init(rawValue:)),
            orderID: channel.customerOrderId ?? item.returnMetadata.fulfillmentOrderId,
            exchangeOrderID: channel.exchangeOrderId,
            invoiceID: item.returnMetadata.invoiceInformation?.id,
            marketplace: channel.marketplaceChannel?.marketplaceName,
            forwardTracking: tracking(shipping.forwardTrackingInfo),
            reverseTracking: tracking(shipping.reverseTrackingInfo),
            pickedUpAt: shipping.pickupDateTime.flatMap(Order.parseTimestamp),
            deliveredAt: shipping.deliveryDateTime.flatMap(Order.parseTimestamp),
            packageDeliveryMode: item.packageDeliveryMode,
            otp: item.otpDetails?.otp,
            otpValidUntil: item.otpDetails.map { Date(timeIntervalSince1970: TimeInterval($0.validTill)) },
            createdAt: item.creationDateTime.flatMap(Order.parseTimestamp) ?? updated,
            updatedAt: updated
        )
        self.init(facts: facts, document: try JSONText.encode(item))
    }
}
