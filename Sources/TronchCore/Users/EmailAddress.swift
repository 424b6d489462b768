import Foundation

/// An e-mail address as Tronch keeps it: trimmed, NFKC-normalised, the domain lower-cased and the local part
/// as given (some mail systems tell `Jo` from `jo`); ``key`` is the case-insensitive form that uniqueness
/// and look-ups use.
package struct EmailAddress: Sendable, Hashable {
    package let value: String

    package static let maxLength = 254

    /// The address normalised, or why `text` is not one.
    package static func parse(_ text: String) -> Result<EmailAddress, FieldError> {
        func invalid(_ message: String) -> Result<EmailAddress, FieldError> {
            .failure(FieldError(field: "email", message: message))
        }
        let normalized = text.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCompatibilityMapping
        guard let at = normalized.lastIndex(of: "@") else { return invalid("must be an address such as name@example.com") }
        let local = normalized[..<at]
        let domain = normalized[normalized.index(after: at)...].lowercased()
        guard !local.isEmpty, local.unicodeScalars.count <= 64 else { return invalid("the part before @ must be 1-64 characters") }
        guard !local.contains("@") else { return invalid("must contain exactly one @") }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard !domain.isEmpty, labels.allSatisfy({ !$0.isEmpty && $0.first != "-" && $0.last != "-" }) else {
            return invalid("the domain after @ must be labels separated by dots, such as example.com")
        }
        let address = "\(local)@\(domain)"
        guard address.unicodeScalars.count <= maxLength else { return invalid("must be at most \(maxLength) characters") }
        let forbidden = address.unicodeScalars.contains { scalar in
            scalar.properties.isWhitespace || scalar.properties.generalCategory == .control
                || "\"(),:;<>[\\]".unicodeScalars.contains(scalar)
        }
        guard !forbidden else { return invalid("must not contain spaces, control characters or \"(),:;<>[\\]") }
        guard !domain.unicodeScalars.contains(where: { "!#$%&'*+/=?^`{|}~_".unicodeScalars.contains($0) }) else {
            return invalid("the domain after @ may hold only letters, digits, hyphens and dots")
        }
        return .success(EmailAddress(value: address))
    }

    /// The part before the last `@`, as given.
    package var localPart: Substring { value[..<value.lastIndex(of: "@")!] }

    /// The case-insensitive identity of the address: two addresses with equal keys are one.
    package var key: String { value.lowercased() }

    private init(value: String) { self.value = value }

    /// An address read back from storage (already normalised).
    package init(stored: String) { self.value = stored }
}
