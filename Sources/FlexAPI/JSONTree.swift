import Foundation

/// A JSON document read only to find what ``RequestValidationMiddleware`` checks: its numbers and the strings holding
/// NUL; other strings, booleans and nulls are kept as markers, not values.
package enum JSONTree: Sendable, Equatable {
    case number(JSONNumber)
    case array([JSONTree])
    /// The members in the order written, a name given twice both times: a check looks at every value a name has.
    case object([Member])
    /// A string holding U+0000, which no field takes (PostgreSQL cannot store it in text).
    case stringWithNUL
    case other

    /// One name and value of an object.
    package struct Member: Sendable, Equatable {
        package var name: String
        package var value: JSONTree

        package init(name: String, value: JSONTree) {
            self.name = name
            self.value = value
        }
    }

    /// Nesting deeper than this is left to Foundation's decoder, which refuses it with its own message.
    static let maximumDepth = 512

    /// Reads the document as the generated decoder will, once, without trial decoding: nil when the bytes are not
    /// plain UTF-8 JSON (a byte order mark, UTF-16, a trailing comma, nesting deeper than ``maximumDepth``, a number
    /// no double holds), which the caller then reads with Foundation's decoder instead (``decoded(_:)``).
    package static func parse(_ bytes: [UInt8]) -> JSONTree? {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONReader(bytes: buffer)
            guard let tree = reader.value(depth: 0) else { return nil }
            reader.skipWhitespace()
            return reader.index == buffer.count ? tree : nil
        }
    }

    /// The document as Foundation's `JSONDecoder` reads it (every encoding and leniency it takes), nil when it
    /// refuses it. Slower than ``parse(_:)``: every value is found by trial.
    package static func decoded(_ bytes: [UInt8]) -> JSONTree? {
        try? JSONDecoder().decode(Decoded.self, from: Data(bytes)).tree
    }

    /// The tree read through `Decodable`, where a value's kind is only found by trying each.
    private struct Decoded: Decodable {
        var tree: JSONTree

        init(from decoder: any Decoder) throws {
            if let container = try? decoder.container(keyedBy: AnyKey.self) {
                var members: [Member] = []
                for key in container.allKeys {
                    let value = try container.decode(Decoded.self, forKey: key).tree
                    members.append(Member(name: key.stringValue, value: value))
                }
                tree = .object(members)
                return
            }
            if var container = try? decoder.unkeyedContainer() {
                var elements: [JSONTree] = []
                while !container.isAtEnd { elements.append(try container.decode(Decoded.self).tree) }
                tree = .array(elements)
                return
            }
            let value = try decoder.singleValueContainer()
            if let string = try? value.decode(String.self) {
                tree = string.utf8.contains(0) ? .stringWithNUL : .other
            } else if value.decodeNil() || (try? value.decode(Bool.self)) != nil {
                tree = .other
            } else if let integer = try? value.decode(Int64.self) {
                tree = .number(.integer(integer))
            } else {
                tree = .number(.real(try value.decode(Double.self)))
            }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// A number as JSON carries it: a whole number that fits 64 bits, or anything else.
package enum JSONNumber: Sendable, Hashable, CustomStringConvertible {
    case integer(Int64)
    case real(Double)

    /// A number read as Foundation's decoder reads it for an `Int64` field: whole (`5`, `5.0`, `1e2`) and in range,
    /// an integer; anything else a real.
    init?(token: UnsafeBufferPointer<UInt8>, plainInteger: Bool) {
        if plainInteger, let integer = Self.integer(token) {
            self = .integer(integer)
            return
        }
        guard let real = Double(String(decoding: token, as: UTF8.self)), real.isFinite else { return nil }
        // Digits beyond 64 bits are a real even when their double is whole (-9223372036854775809 rounds to Int64.min);
        // so is -2^63 written with a fraction or exponent, as Foundation reads it.
        if !plainInteger, real.rounded() == real, real.magnitude < 0x1p63, let integer = Int64(exactly: real) {
            self = .integer(integer)
        } else {
            self = .real(real)
        }
    }

    /// Digits with an optional minus, nil when they do not fit 64 bits.
    private static func integer(_ token: UnsafeBufferPointer<UInt8>) -> Int64? {
        let negative = token.first == UInt8(ascii: "-")
        var value: Int64 = 0
        for digit in token.dropFirst(negative ? 1 : 0) {
            let (shifted, overflowed) = value.multipliedReportingOverflow(by: 10)
            // Built negative, as Int64.min has no positive twin.
            let (next, underflowed) = shifted.subtractingReportingOverflow(Int64(digit &- UInt8(ascii: "0")))
            if overflowed || underflowed { return nil }
            value = next
        }
        if negative { return value }
        return value == .min ? nil : -value
    }

    package var description: String {
        switch self {
        case .integer(let value): "\(value)"
        case .real(let value): RequestLimits.Rule.format(value)
        }
    }
}

/// Reads RFC 8259 JSON from UTF-8 bytes into a ``JSONTree``; every method answers nil where the bytes stop being
/// JSON it takes.
private struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) -> JSONTree? {
        guard depth < JSONTree.maximumDepth else { return nil }
        skipWhitespace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"): return object(depth: depth)
        case UInt8(ascii: "["): return array(depth: depth)
        case UInt8(ascii: "\""):
            guard let (holdsNUL, _) = string(decoding: false) else { return nil }
            return holdsNUL ? .stringWithNUL : .other
        case UInt8(ascii: "t"): return literal("true") ? .other : nil
        case UInt8(ascii: "f"): return literal("false") ? .other : nil
        case UInt8(ascii: "n"): return literal("null") ? .other : nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number().map(JSONTree.number)
        default: return nil
        }
    }

    private mutating func object(depth: Int) -> JSONTree? {
        index += 1
        var members: [JSONTree.Member] = []
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let (_, name) = string(decoding: true)
            else { return nil }
            skipWhitespace()
            guard consume(UInt8(ascii: ":")), let value = value(depth: depth + 1) else { return nil }
            members.append(JSONTree.Member(name: name, value: value))
            skipWhitespace()
            if consume(UInt8(ascii: "}")) { return .object(members) }
            guard consume(UInt8(ascii: ",")) else { return nil }
        }
    }

    private mutating func array(depth: Int) -> JSONTree? {
        index += 1
        var elements: [JSONTree] = []
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return .array(elements) }
        while true {
            guard let element = value(depth: depth + 1) else { return nil }
            elements.append(element)
            skipWhitespace()
            if consume(UInt8(ascii: "]")) { return .array(elements) }
            guard consume(UInt8(ascii: ",")) else { return nil }
        }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
        index += count
        return true
    }

    /// Steps over one UTF-8 encoded scalar of two to four bytes; false when the bytes are not UTF-8 (Foundation's
    /// decoder refuses the document then).
    private mutating func skipScalar() -> Bool {
        let lead = bytes[index]
        let length: Int
        var scalar: UInt32
        switch lead {
        case 0xC2...0xDF: (length, scalar) = (2, UInt32(lead & 0x1F))
        case 0xE0...0xEF: (length, scalar) = (3, UInt32(lead & 0x0F))
        case 0xF0...0xF4: (length, scalar) = (4, UInt32(lead & 0x07))
        default: return false
        }
        guard bytes.count - index >= length else { return false }
        for offset in 1..<length {
            let byte = bytes[index + offset]
            guard byte & 0xC0 == 0x80 else { return false }
            scalar = scalar << 6 | UInt32(byte & 0x3F)
        }
        let smallest: UInt32 = length == 3 ? 0x800 : length == 4 ? 0x10000 : 0x80
        guard scalar >= smallest, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return false }
        index += length
        return true
    }

    /// Steps over a string: whether it holds NUL and, when `decoding` (a member's name), its text; nil when it is not
    /// a valid JSON string. A value's text is not made: only a name is looked at.
    private mutating func string(decoding: Bool) -> (holdsNUL: Bool, text: String)? {
        index += 1
        var holdsNUL = false
        var text = ""
        var run = index
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                if decoding {
                    text += String(decoding: UnsafeBufferPointer(rebasing: bytes[run..<index]), as: UTF8.self)
                }
                index += 1
                return (holdsNUL, text)
            case UInt8(ascii: "\\"):
                if decoding {
                    text += String(decoding: UnsafeBufferPointer(rebasing: bytes[run..<index]), as: UTF8.self)
                }
                guard let value = escape() else { return nil }
                holdsNUL = holdsNUL || value == 0
                if decoding {
                    guard let scalar = Unicode.Scalar(value) else { return nil }
                    text.unicodeScalars.append(scalar)
                }
                run = index
            case 0..<0x20:
                return nil
            case 0x80...:
                guard skipScalar() else { return nil }
            default:
                index += 1
            }
        }
        return nil
    }

    /// The scalar of the escape at `index` (a backslash), a surrogate pair as one; nil when it is not a valid escape.
    private mutating func escape() -> UInt32? {
        guard bytes.count - index >= 2 else { return nil }
        let letter = bytes[index + 1]
        index += 2
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return UInt32(letter)
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "f"): return 0x0C
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "u"):
            guard let unit = hex4() else { return nil }
            switch unit {
            case 0xD800...0xDBFF:
                guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u")
                else { return nil }
                index += 2
                guard let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            case 0xDC00...0xDFFF:
                return nil
            default:
                return unit
            }
        default:
            return nil
        }
    }

    private mutating func hex4() -> UInt32? {
        guard bytes.count - index >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// A number by RFC 8259's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    private mutating func number() -> JSONNumber? {
        let start = index
        _ = consume(UInt8(ascii: "-"))
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            guard digits() > 0 else { return nil }
        }
        var plainInteger = true
        if consume(UInt8(ascii: ".")) {
            plainInteger = false
            guard digits() > 0 else { return nil }
        }
        if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
            plainInteger = false
            if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
            guard digits() > 0 else { return nil }
        }
        return JSONNumber(token: UnsafeBufferPointer(rebasing: bytes[start..<index]), plainInteger: plainInteger)
    }

    private mutating func digits() -> Int {
        let start = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        return index - start
    }
}
