import Foundation

/// The numbers one operation's requests may carry and the range of each, as the spec (openapi.yaml) writes them.
/// swift-openapi-generator decodes a request without enforcing `minimum` and `maximum`, so a number outside its
/// range would reach the handlers — a negative page size, an hour count of 1e300, a quantity near `Int.max` — and
/// could trap there. ``RequestValidationMiddleware`` checks every one of them before any handler runs.
struct RequestLimits: Sendable {
    /// A number's kind and range.
    enum Rule: Sendable, Hashable {
        case integer(ClosedRange<Int64>)
        case number(ClosedRange<Double>)
        /// `true` or `false` (parameters only).
        case boolean
        /// One of these words (parameters only).
        case oneOf([String])
    }

    /// Where a parameter is read from.
    enum Location: Sendable, Hashable {
        case query
        case path
    }

    /// A numeric query or path parameter.
    struct Parameter: Sendable, Hashable {
        var location: Location
        var name: String
        var rule: Rule
    }

    /// One step into a JSON body: a named member, any member of a map, any element of an array.
    enum Step: Sendable, Hashable {
        case key(String)
        case anyKey
        case anyIndex
    }

    /// A number inside the JSON body, found by its path.
    struct BodyNumber: Sendable, Hashable {
        var path: [Step]
        var rule: Rule
    }

    var parameters: [Parameter]
    var body: [BodyNumber]
}

/// What is wrong with one value of a request: the field in the API's spelling and the reason.
struct RequestValueError: Error, Sendable, Hashable {
    var field: String
    var reason: String
}

extension RequestLimits.Rule {
    /// Checks a number given as text (a query or path parameter); nil when it is acceptable.
    func check(text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch self {
        case .integer(let range):
            if let value = Int64(trimmed) { return check(integer: value, range) }
            return "\(expectation), got \"\(text)\""
        case .number(let range):
            guard let value = Double(trimmed) else { return "\(expectation), got \"\(text)\"" }
            return check(number: value, range, shown: trimmed)
        case .boolean:
            return text == "true" || text == "false" ? nil : "\(expectation), got \"\(text)\""
        case .oneOf(let values):
            return values.contains(text) ? nil : "\(expectation), got \"\(text)\""
        }
    }

    /// Checks a number read from JSON; nil when it is acceptable.
    func check(json value: JSONNumber) -> String? {
        switch (self, value) {
        case (.integer(let range), .integer(let integer)):
            return check(integer: integer, range)
        case (.integer, .real):
            return "\(expectation), got \(value)"
        case (.number(let range), .integer(let integer)):
            return check(number: Double(integer), range, shown: "\(integer)")
        case (.number(let range), .real(let real)):
            return check(number: real, range, shown: "\(value)")
        case (.boolean, _), (.oneOf, _):
            return "\(expectation), got \(value)"
        }
    }

    private func check(integer value: Int64, _ range: ClosedRange<Int64>) -> String? {
        range.contains(value) ? nil : "\(expectation), got \(value)"
    }

    private func check(number value: Double, _ range: ClosedRange<Double>, shown: String) -> String? {
        guard value.isFinite else { return "must be a finite number, got \(shown)" }
        return range.contains(value) ? nil : "\(expectation), got \(shown)"
    }

    /// The range in words: "must be from 1 to 500", "must be 0 or more".
    var expectation: String {
        switch self {
        case .integer(let range):
            if range.upperBound == .max { return "must be a whole number, \(range.lowerBound) or more" }
            return "must be a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .number(let range):
            return "must be a number from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))"
        case .boolean:
            return "must be true or false"
        case .oneOf(let values):
            return "must be one of \(values.joined(separator: ", "))"
        }
    }

    /// A double as a person writes it: 5, not 5.0; 1e+300 as Swift prints it.
    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// Text no field takes: U+0000 (NUL). PostgreSQL refuses it in text, SQLite would store it; either way it is no
/// hub, SKU, name or id a person typed.
enum ForbiddenText {
    static let reason = "must not contain the NUL character (U+0000)"

    /// The first query or path parameter holding NUL.
    static func check(query: [(name: String, value: String)], path: [String: String]) -> RequestValueError? {
        for (name, value) in query where value.utf8.contains(0) || name.utf8.contains(0) {
            return RequestValueError(field: name.replacingOccurrences(of: "\u{0}", with: "\\0"), reason: reason)
        }
        for (name, value) in path.sorted(by: { $0.key < $1.key }) where value.utf8.contains(0) {
            return RequestValueError(field: name, reason: reason)
        }
        return nil
    }

    /// The first string of a JSON body holding NUL (a key or a value), named by its path.
    static func check(_ node: JSONTree) -> RequestValueError? {
        guard let (place, inName) = nul(in: node) else { return nil }
        let field = place.text.isEmpty ? "body" : place.text
        return RequestValueError(
            field: inName ? field.replacingOccurrences(of: "\u{0}", with: "\\0") : field,
            reason: reason
        )
    }

    /// Where the first NUL is, and whether it is in a member's name.
    private static func nul(in node: JSONTree) -> (BodyPlace, inName: Bool)? {
        switch node {
        case .stringWithNUL:
            return (BodyPlace(), false)
        case .array(let elements):
            for (index, element) in elements.enumerated() {
                if let (place, inName) = nul(in: element) {
                    return (place.enclosed(in: .index(index)), inName)
                }
            }
            return nil
        case .object(let members):
            for member in members {
                if member.name.utf8.contains(0) { return (BodyPlace(.name(member.name)), true) }
                if let (place, inName) = nul(in: member.value) {
                    return (place.enclosed(in: .name(member.name)), inName)
                }
            }
            return nil
        case .number, .other:
            return nil
        }
    }
}

/// A place in a JSON body (`packages[0].items[1].quantity`), built outwards from the value as a check returns, so
/// only for a value found wrong.
struct BodyPlace {
    enum Step {
        case name(String)
        case index(Int)
    }

    /// Innermost first.
    private var steps: [Step] = []

    init() {}

    init(_ step: Step) {
        steps = [step]
    }

    /// This place inside `step`.
    func enclosed(in step: Step) -> BodyPlace {
        var outer = self
        outer.steps.append(step)
        return outer
    }

    /// The place as the API's messages name fields.
    var text: String {
        var text = ""
        for step in steps.reversed() {
            switch step {
            case .name(let name): text += text.isEmpty ? name : ".\(name)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }
}

extension RequestLimits {
    /// Checks the query and path parameters; the first value out of range, if any.
    func checkParameters(query: [(name: String, value: String)], path: [String: String]) -> RequestValueError? {
        for parameter in parameters {
            let values: [String] =
                switch parameter.location {
                case .query: query.filter { $0.name == parameter.name }.map(\.value)
                case .path: path[parameter.name].map { [$0] } ?? []
                }
            for value in values {
                if let reason = parameter.rule.check(text: value) {
                    return RequestValueError(field: parameter.name, reason: reason)
                }
            }
        }
        return nil
    }

    /// Checks the numbers of a JSON body; the first one out of range, if any, named by its path
    /// (`packages[0].items[1].quantity`).
    func checkBody(_ tree: JSONTree) -> RequestValueError? {
        for number in body {
            if let (place, reason) = Self.check(tree, number.path[...], number.rule) {
                return RequestValueError(field: place.text, reason: reason)
            }
        }
        return nil
    }

    private static func check(_ node: JSONTree, _ path: ArraySlice<Step>, _ rule: Rule) -> (BodyPlace, String)? {
        guard let step = path.first else {
            guard case .number(let value) = node, let reason = rule.check(json: value) else { return nil }
            return (BodyPlace(), reason)
        }
        let rest = path.dropFirst()
        switch (step, node) {
        case (.key(let name), .object(let members)):
            // A name given twice: every value is checked, whichever one a decoder takes.
            for member in members where member.name == name {
                if let (place, reason) = check(member.value, rest, rule) {
                    return (place.enclosed(in: .name(name)), reason)
                }
            }
            return nil
        case (.anyKey, .object(let members)):
            for member in members {
                if let (place, reason) = check(member.value, rest, rule) {
                    return (place.enclosed(in: .name(member.name)), reason)
                }
            }
            return nil
        case (.anyIndex, .array(let elements)):
            for (index, element) in elements.enumerated() {
                if let (place, reason) = check(element, rest, rule) {
                    return (place.enclosed(in: .index(index)), reason)
                }
            }
            return nil
        default:
            // Not the shape the spec gives: the generated decoder refuses it with its own message.
            return nil
        }
    }
}
