import Foundation
import Hummingbird
import HummingbirdCore
import TronchCore

/// A page of a list: `{"data": [...], "next_cursor": "..." | null}`, the shape of every list route.
struct ListResponse<Item: Encodable>: Encodable {
    var data: [Item]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case data
        case nextCursor = "next_cursor"
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
        for (name, _) in parameters {
            let name = String(name)
            if !known.contains(name) && !(allowQueryParameterKeys && name == AuthenticationMiddleware.queryParameter) {
                errors.append(FieldError(field: name, message: "is not a known query parameter"))
            }
        }
    }

    subscript(_ name: String) -> String? { parameters[name[...]].map(String.init) }

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

    mutating func fail(_ field: String, _ message: String) {
        errors.append(FieldError(field: field, message: message))
    }

    /// Throws the collected problems as one 400.
    func finish() throws {
        if !errors.isEmpty { throw DomainError.validation(errors) }
    }
}
