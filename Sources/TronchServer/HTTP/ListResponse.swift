import Foundation
import Hummingbird
import HummingbirdCore
import TronchCore

/// A page of a list: `{"data": [...], "next_cursor": "..." | null}`, the shape of every list route.
struct ListResponse<Item: Encodable>: Encodable {
    var data: [Item]
    var nextCursor: String?

    init(data: [Item], nextCursor: String?) {
        self.data = data
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case data
        case nextCursor = "next_cursor"
    }

    /// A page from `fetched`, read with a limit one above `size`: the extra row only says a next page exists,
    /// whose cursor is the last row shown.
    init<Row>(fetched: [Row], size: Int, item: (Row) -> Item, cursor: (Row) -> String) {
        let page = fetched.prefix(size)
        data = page.map(item)
        nextCursor = fetched.count > size ? page.last.map(cursor) : nil
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data, forKey: .data)
        // Always present, null on the last page.
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// Reads the query parameters every list route shares, and rejects names the route does not know.
struct ListParameters {
    let parameters: FlatDictionary<Substring, Substring>
    var errors = [FieldError]()

    /// `known` plus `api_key` when query-parameter keys are enabled.
    init(_ request: Request, known: Set<String>, allowQueryParameterKeys: Bool) {
        parameters = request.uri.queryParameters
        for (name, value) in parameters {
            let name = String(name)
            if value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                errors.append(FieldError(field: name, message: "must not contain control characters"))
            }
            if !known.contains(name) && !(allowQueryParameterKeys && name == AuthenticationMiddleware.queryParameter) {
                errors.append(FieldError(field: name, message: "is not a known query parameter"))
            }
        }
    }

    /// A parameter's value as sent, empty included: for enums, numbers and timestamps, where an empty value
    /// is not one the schema allows (a 400).
    subscript(_ name: String) -> String? { parameters[name[...]].map(String.init) }

    /// A free-text parameter (a filter, a cursor): an empty one (`?cursor=`, as HTML forms send them) is the
    /// same as an absent one.
    func text(_ name: String) -> String? { self[name].flatMap { $0.isEmpty ? nil : $0 } }

    /// `limit`, 1 to 100.
    mutating func limit() -> Int? {
        guard let text = self["limit"] else { return nil }
        guard let value = Int(text), (1...100).contains(value) else {
            errors.append(FieldError(field: "limit", message: "must be an integer from 1 to 100"))
            return nil
        }
        return value
    }

    /// An RFC 3339 instant.
    mutating func timestamp(_ name: String) -> Date? {
        guard let text = self[name] else { return nil }
        guard let date = Timestamp.parse(text) else {
            fail(name, "must be an RFC 3339 timestamp")
            return nil
        }
        return date
    }

    /// A span written `N` (seconds) or `Ns`, `Nm`, `Nh`, `Nd`, at most `max` seconds.
    mutating func seconds(_ name: String, max: Int64) -> Int64? {
        guard let text = text(name) else { return nil }
        var digits = Substring(text)
        var unit: Int64 = 1
        if let last = digits.last, let multiplier = ["s": 1, "m": 60, "h": 3600, "d": 86_400][String(last)] {
            unit = Int64(multiplier)
            digits = digits.dropLast()
        }
        guard let count = Int64(digits), count > 0, count <= max / unit else {
            fail(name, "must be a positive span such as 3600, 30m, 12h or 7d (at most \(max / 86_400) days)")
            return nil
        }
        return count * unit
    }

    mutating func fail(_ field: String, _ message: String) {
        errors.append(FieldError(field: field, message: message))
    }

    /// Throws the collected problems as one 400.
    func finish() throws {
        if !errors.isEmpty { throw DomainError.validation(errors) }
    }
}
