package import Foundation
import Hummingbird
import NIOCore
package import TronchCore

/// Reads a JSON request body into fields, collecting a clear message for every bad one instead of stopping
/// at the first: unknown fields, wrong types, `null` where it is not allowed.
///
/// Working on a parsed ``JSONValue`` (rather than `Decodable` models) is what lets a PATCH tell an absent
/// field from an explicit `null`, and name fields the way the client wrote them (`ratelimits[0].limit`).
package struct JSONObjectReader {
    private let object: [String: JSONValue]
    private let path: String
    package private(set) var errors: [FieldError] = []

    /// Fails with a field error (not a throw) when `value` is not an object; unknown keys are errors.
    package init(_ value: JSONValue, allowed: Set<String>, path: String = "") {
        self.path = path
        guard case .object(let object) = value else {
            self.object = [:]
            errors.append(FieldError(field: path.isEmpty ? "body" : path, message: "must be a JSON object"))
            return
        }
        self.object = object
        // Sorted (so the errors come in a stable order) only when there is an unknown key to report.
        guard object.keys.contains(where: { !allowed.contains($0) }) else { return }
        for key in object.keys.sorted() where !allowed.contains(key) {
            errors.append(FieldError(field: field(key), message: "is not a known field"))
        }
    }

    package func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    package mutating func fail(_ key: String, _ message: String) {
        errors.append(FieldError(field: field(key), message: message))
    }

    package mutating func absorb(_ other: [FieldError]) { errors += other }

    /// Throws every collected problem as one `VALIDATION_FAILED`.
    package func finish() throws(DomainError) {
        if !errors.isEmpty { throw .validation(errors) }
    }

    package func contains(_ key: String) -> Bool { object[key] != nil }

    /// The raw value: `.unchanged` when absent, `.clear` for `null`.
    package func raw(_ key: String) -> Patch<JSONValue> {
        switch object[key] {
        case nil: .unchanged
        case .null?: .clear
        case let value?: .set(value)
        }
    }

    package mutating func string(_ key: String) -> Patch<String> {
        typed(key, "a string") { if case .string(let value) = $0 { value } else { nil } }
    }

    package mutating func integer(_ key: String) -> Patch<Int64> {
        typed(key, "an integer") { value in
            switch value {
            case .int(let number): number
            case .double(let number) where number.rounded() == number && abs(number) < 9e15: Int64(number)
            default: nil
            }
        }
    }

    package mutating func bool(_ key: String) -> Patch<Bool> {
        typed(key, "true or false") { if case .bool(let value) = $0 { value } else { nil } }
    }

    package mutating func object(_ key: String) -> Patch<[String: JSONValue]> {
        typed(key, "a JSON object") { if case .object(let value) = $0 { value } else { nil } }
    }

    package mutating func array(_ key: String) -> Patch<[JSONValue]> {
        typed(key, "an array") { if case .array(let value) = $0 { value } else { nil } }
    }

    package mutating func stringArray(_ key: String) -> Patch<[String]> {
        switch array(key) {
        case .unchanged: return .unchanged
        case .clear: return .clear
        case .set(let items):
            var strings = [String]()
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item else {
                    fail("\(key)[\(index)]", "must be a string")
                    continue
                }
                strings.append(text)
            }
            return .set(strings)
        }
    }

    /// A date-time in RFC 3339 (`2026-12-31T23:59:59Z`).
    package mutating func timestamp(_ key: String) -> Patch<Date> {
        switch string(key) {
        case .unchanged: return .unchanged
        case .clear: return .clear
        case .set(let text):
            guard let date = Timestamp.parse(text) else {
                fail(key, "must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z")
                return .unchanged
            }
            return .set(date)
        }
    }

    private mutating func typed<T: Sendable & Hashable>(
        _ key: String,
        _ expected: String,
        _ extract: (JSONValue) -> T?
    ) -> Patch<T> {
        switch raw(key) {
        case .unchanged: return .unchanged
        case .clear: return .clear
        case .set(let value):
            guard let typed = extract(value) else {
                fail(key, "must be \(expected)")
                return .unchanged
            }
            return .set(typed)
        }
    }
}

extension Request {
    /// The body parsed as JSON, at most `maxSize` bytes; an empty body is an error.
    package func jsonBody(maxSize: Int) async throws -> JSONValue {
        guard let value = try await jsonBodyIfPresent(maxSize: maxSize) else {
            throw APIError(.malformedJSON, "the request body is empty; send a JSON object")
        }
        return value
    }

    /// The body parsed as JSON, or nil when there is none.
    package func jsonBodyIfPresent(maxSize: Int) async throws -> JSONValue? {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: maxSize)
        } catch is NIOTooManyBytesError {
            throw APIError(.payloadTooLarge, "the request body is larger than \(maxSize) bytes")
        }
        guard buffer.readableBytes > 0 else { return nil }
        do {
            return try JSONParser.parse(buffer.readableBytesView)
        } catch {
            throw APIError(.malformedJSON, "the request body is not valid JSON: \(error.description)")
        }
    }
}
