import FlexAPI
import Foundation
import Testing

/// The request checks read a body with a reader of their own instead of Foundation's decoder by trial; whatever it
/// reads must be what Foundation's decoder (and so the generated one) reads, or a number a check passed could reach a
/// handler out of range.
@Suite("Reading request bodies for their checks")
struct JSONTreeTests {
    /// Member order does not matter to the checks; Foundation's decoder gives no order.
    static func sorted(_ tree: JSONTree) -> JSONTree {
        switch tree {
        case .array(let elements): .array(elements.map(sorted))
        case .object(let members):
            .object(
                members.map { JSONTree.Member(name: $0.name, value: sorted($0.value)) }.sorted { $0.name < $1.name }
            )
        default: tree
        }
    }

    static func agree(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let bytes = Array(text.utf8)
        let parsed = JSONTree.parse(bytes)
        let decoded = JSONTree.decoded(bytes)
        if let parsed {
            #expect(decoded.map(sorted) == sorted(parsed), "\(text)", sourceLocation: sourceLocation)
        }
    }

    @Test("numbers are read as Foundation reads them: whole ones as integers, however written")
    func numbers() throws {
        let cases: [(String, JSONNumber)] = [
            ("5", .integer(5)), ("-0", .integer(0)), ("5.0", .integer(5)), ("1e2", .integer(100)),
            ("-0.0", .integer(0)), ("1.5", .real(1.5)), ("9223372036854775807", .integer(.max)),
            ("-9223372036854775808", .integer(.min)), ("9223372036854775808", .real(0x1p63)),
            ("-9223372036854775809", .real(-0x1p63)), ("1E18", .integer(1_000_000_000_000_000_000)),
            ("1e19", .real(1e19)), ("2.5e-3", .real(0.0025)),
            ("123456789012345678901234567890", .real(1.2345678901234568e29)),
            ("9007199254740993", .integer(9_007_199_254_740_993)), ("1e-400", .integer(0)),
        ]
        for (text, number) in cases {
            #expect(JSONTree.parse(Array("[\(text)]".utf8)) == .array([.number(number)]), "\(text)")
            Self.agree("[\(text)]")
            Self.agree("{\"n\": \(text)}")
        }
        for text in [
            "9223372036854775807.0", "-9223372036854775808.0", "9223372036854775808.0", "1.0e0", "-1e-7", "0e5",
        ] {
            Self.agree("[\(text)]")
        }
        // Not JSON numbers, or none a double holds: left to Foundation's decoder, which refuses them as well.
        for text in ["00", "-", "1.", ".5", "1e", "+1", "0x10", "NaN", "Infinity", "1E400", "-1e400", "01"] {
            #expect(JSONTree.parse(Array("[\(text)]".utf8)) == nil, "\(text)")
            #expect(JSONTree.decoded(Array("[\(text)]".utf8)) == nil, "\(text)")
        }
    }

    @Test("NUL is found in values and names, through every escape; other escapes are not NUL")
    func nul() throws {
        #expect(JSONTree.parse(Array(#"["a\u0000b"]"#.utf8)) == .array([.stringWithNUL]))
        #expect(JSONTree.parse(Array(#"["a\\u0000b"]"#.utf8)) == .array([.other]), "an escaped backslash, then text")
        #expect(
            JSONTree.parse(Array(#"{"\u0000":1}"#.utf8)) == .object([.init(name: "\u{0}", value: .number(.integer(1)))])
        )
        #expect(
            JSONTree.parse(Array(#"{"a\"b\n\u00e9\ud83d\ude00":1}"#.utf8))
                == .object([.init(name: "a\"b\né😀", value: .number(.integer(1)))])
        )
        #expect(JSONTree.parse(Array(#"{"Größe":true}"#.utf8)) == .object([.init(name: "Größe", value: .other)]))
        for text in [
            #"["a\u0000b"]"#, #"["a\\u0000b"]"#, #"{"\u0000":1}"#, #"{"a\"b\n\u00e9\ud83d\ude00":1}"#,
            #"{"Größe":[true,false,null,"x",{}],"b":[]}"#, " \n\t{ \"a\" : [ 1 , 2 ] } \r\n",
        ] {
            Self.agree(text)
        }
        // A raw control character, a lone surrogate, a bad escape: not JSON, to either reader.
        for text in ["[\"a\u{1}\"]", #"["\ud800"]"#, #"["\udc00"]"#, #"["\ud800\u0041"]"#, #"["\x"]"#, #"["\u12"]"#] {
            #expect(JSONTree.parse(Array(text.utf8)) == nil, "\(text)")
            #expect(JSONTree.decoded(Array(text.utf8)) == nil, "\(text)")
        }
    }

    @Test("what the reader does not take is left to Foundation's decoder; a name given twice is kept twice")
    func leftToFoundation() throws {
        // Foundation's decoder takes these; the reader does not, and the middleware falls back to it.
        let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("[1]".utf8)
        let utf16: [UInt8] = "[1]".utf16.flatMap { [UInt8($0), 0] }
        for bytes in [byteOrderMark, Array("[1,]".utf8), utf16] {
            #expect(JSONTree.parse(bytes) == nil)
            #expect(JSONTree.decoded(bytes) == .array([.number(.integer(1))]))
        }
        let deep = Array(String(repeating: "[", count: 600).utf8) + Array(String(repeating: "]", count: 600).utf8)
        #expect(JSONTree.parse(deep) == nil, "deeper than the reader goes")
        let duplicate = JSONTree.parse(Array(#"{"q":1,"q":-1}"#.utf8))
        #expect(
            duplicate
                == .object([
                    .init(name: "q", value: .number(.integer(1))), .init(name: "q", value: .number(.integer(-1))),
                ])
        )
        for text in ["", " ", "[1] x", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{,}", "[", "{\"a\":1", "tru", "nul"] {
            #expect(JSONTree.parse(Array(text.utf8)) == nil, "\(text)")
        }
    }

    @Test("random documents and mutations of them: whatever the reader takes, Foundation reads the same")
    func random() throws {
        var generator = SplitMix(seed: 0x5EED)
        var mutated = 0
        for _ in 0..<400 {
            var names = 0
            let text = Self.document(depth: 0, names: &names, using: &generator)
            let bytes = Array(text.utf8)
            #expect(JSONTree.parse(bytes) != nil, "\(text)")
            Self.agree(text)
            // Broken copies: a byte dropped, one inserted, a slice repeated.
            for _ in 0..<8 {
                var copy = bytes
                let at = Int.random(in: 0..<copy.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: copy.remove(at: at)
                case 1: copy.insert(Array(#"{}[],:"\-0.e5tfnu"#.utf8).randomElement(using: &generator)!, at: at)
                default: copy.insert(contentsOf: copy[at..<min(copy.count, at + 4)], at: at)
                }
                guard let parsed = JSONTree.parse(copy) else { continue }
                mutated += 1
                let decoded = JSONTree.decoded(copy)
                #expect(decoded.map(Self.sorted) == Self.sorted(parsed), "\(String(decoding: copy, as: UTF8.self))")
            }
        }
        #expect(mutated > 100, "some broken copies are still JSON, and were compared")
    }

    /// A document of objects with distinct names (Foundation keeps only one of a repeated name), arrays, numbers of
    /// every form, strings with escapes and NULs, and literals.
    static func document(depth: Int, names: inout Int, using generator: inout SplitMix) -> String {
        let kind = depth > 4 ? Int.random(in: 2..<6, using: &generator) : Int.random(in: 0..<6, using: &generator)
        switch kind {
        case 0:
            let members = (0..<Int.random(in: 0..<4, using: &generator)).map { _ in
                names += 1
                let name = ["k\(names)", "\\u00e9\(names)", "q\\\"\(names)", "Größe\(names)"].randomElement(
                    using: &generator
                )!
                return "\"\(name)\" : \(document(depth: depth + 1, names: &names, using: &generator))"
            }
            return "{" + members.joined(separator: ",") + "}"
        case 1:
            let elements = (0..<Int.random(in: 0..<4, using: &generator)).map { _ in
                document(depth: depth + 1, names: &names, using: &generator)
            }
            return "[ " + elements.joined(separator: " ,\n") + "]"
        case 2, 3:
            let integer = Int64.random(in: -1_000_000...1_000_000, using: &generator)
            return [
                "\(integer)", "\(integer).0", "\(integer)e2", "\(integer).25", "\(integer)E-3", "0", "-0",
                "9223372036854775807", "9223372036854775808", "\(Double(integer) / 7)",
            ].randomElement(using: &generator)!
        case 4:
            return ["\"\"", "\"a b\"", "\"\\u0000\"", "\"x\\\\u0000\"", "\"\\n\\t\\/\"", "\"é😀\""].randomElement(
                using: &generator
            )!
        default:
            return ["true", "false", "null"].randomElement(using: &generator)!
        }
    }
}

/// A seeded generator, so a failing document can be made again.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
