import FlexCore
import Foundation

/// The newest of Amazon's times a poll has seen, kept at the store's precision (milliseconds). Amazon's timestamps
/// carry milliseconds, but about half of them parse to a `Date` a few ulps away from the same millisecond read back
/// from the store: compared at full precision, a watermark that had not moved looked moved, and was written again
/// at about half the polls whose overlap re-read a shipment.
struct PollWatermark {
    /// What the store holds; nil before the first poll.
    let held: Date?
    private var newest: Int64

    /// `start`: where the first poll begins when nothing is held.
    init(held: Date?, start: Date) {
        self.held = held
        newest = (held ?? start).millisecondsSince1970
    }

    mutating func saw(_ time: Date) {
        newest = max(newest, time.millisecondsSince1970)
    }

    /// The watermark to store, when it differs from the one held.
    var moved: Date? {
        newest == held?.millisecondsSince1970 ? nil : Date(millisecondsSince1970: newest)
    }
}
