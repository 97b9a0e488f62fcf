import Foundation

/// What the gateway learnt about the request being handled, for the handlers below it.
enum RequestScope {
    /// The merchant whose access token the request carries.
    @TaskLocal static var merchantID: String?
    /// The simulator's address as the client reached it, for document URLs.
    @TaskLocal static var baseURL = "http://127.0.0.1"

    /// The calling merchant, or Amazon's 403 when the gateway did not authenticate one.
    static func merchant() throws(AmazonError) -> String {
        guard let merchantID else { throw AmazonError.unauthorized("The request carries no valid access token.") }
        return merchantID
    }
}

/// Pagination tokens: opaque to clients, they carry the position after which the next page starts and a digest of
/// the filters, so that a page is stable while new records arrive and a token cannot be reused with other filters.
enum PageToken {
    static func encode(position: Int, filter: String) -> String {
        Data("\(position):\(digest(filter))".utf8).base64EncodedString()
    }

    static func decode(_ token: String, filter: String, parameter: String) throws(AmazonError) -> Int {
        guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8) else {
            throw AmazonError.invalidInput("Invalid input for parameter \(parameter): not a token this API issued")
        }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let position = Int(parts[0]), position >= 0 else {
            throw AmazonError.invalidInput("Invalid input for parameter \(parameter): not a token this API issued")
        }
        guard parts[1] == digest(filter) else {
            throw AmazonError.invalidInput(
                "Invalid input for parameter \(parameter): the token belongs to a query with other filters"
            )
        }
        return position
    }

    /// The page of `records` (in creation order) that follows the position a token carried, and the token for the
    /// page after it, if there is one.
    static func page<Record>(
        _ records: [Record],
        sequence: (Record) -> Int,
        limit: Int,
        filter: String
    ) -> (page: [Record], next: String?) {
        let sorted = records.sorted { sequence($0) < sequence($1) }
        let page = Array(sorted.prefix(limit))
        let next = sorted.count > limit ? encode(position: sequence(page[page.count - 1]), filter: filter) : nil
        return (page, next)
    }

    /// FNV-1a over the filter text: stable across runs, unlike `hashValue`.
    static func digest(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 36)
    }
}

extension Simulator {
    /// Amazon's timestamps: ISO-8601 in UTC with milliseconds.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Parses an ISO-8601 date-time with or without fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    /// A timestamp the simulator wrote.
    static func date(_ text: String) -> Date {
        parseTimestamp(text) ?? .distantPast
    }
}
