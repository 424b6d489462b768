import Foundation

/// An e-mail address as Tronch keeps it: trimmed, NFKC-normalised, the domain lower-cased and the local part
/// as given (some mail systems tell `Jo` from `jo`); ``key`` is the case-insensitive form that uniqueness
/// and look-ups use.
package struct EmailAddress: Sendable, Hashable {
    package let value: String

    package static let maxLength = 254

    /// The address normalised, or why `text` is not one. Checked code point by code point (not by visible
    /// character): a combining mark right after `@` must not hide the `@` from the parser.
    package static func parse(_ text: String) -> Result<EmailAddress, FieldError> {
        func invalid(_ message: String) -> Result<EmailAddress, FieldError> {
            .failure(FieldError(field: "email", message: message))
        }
        let normalized = text.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCompatibilityMapping
        let scalars = Array(normalized.unicodeScalars)
        guard let at = scalars.lastIndex(of: "@") else { return invalid("must be an address such as name@example.com") }
        let local = scalars[..<at]
        let domainScalars = Array(String(String.UnicodeScalarView(scalars[(at + 1)...])).lowercased().unicodeScalars)
        guard !local.isEmpty, local.count <= 64 else { return invalid("the part before @ must be 1-64 characters") }
        guard !local.contains("@") else { return invalid("must contain exactly one @") }
        let labels = domainScalars.split(separator: ".", omittingEmptySubsequences: false)
        guard !domainScalars.isEmpty, labels.allSatisfy({ !$0.isEmpty && $0.first != "-" && $0.last != "-" }) else {
            return invalid("the domain after @ must be labels separated by dots, such as example.com")
        }
        let all = Array(local) + ["@"] + domainScalars
        guard all.count <= maxLength else { return invalid("must be at most \(maxLength) characters") }
        let forbidden = all.contains { scalar in
            scalar.properties.isWhitespace || scalar.properties.generalCategory == .control || "\"(),:;<>[\\]".unicodeScalars.contains(scalar)
        }
        guard !forbidden else { return invalid("must not contain spaces, control characters or \"(),:;<>[\\]") }
        guard !domainScalars.contains(where: { "!#$%&'*+/=?^`{|}~_".unicodeScalars.contains($0) }) else {
            return invalid("the domain after @ may hold only letters, digits, hyphens and dots")
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: all)
        return .success(EmailAddress(value: String(view)))
    }

    /// The part before the last `@`, as given.
    package var localPart: String {
        let scalars = value.unicodeScalars
        return String(scalars[..<scalars.lastIndex(of: "@")!])
    }

    /// The case-insensitive identity of the address: two addresses with equal keys are one.
    package var key: String { value.lowercased() }

    private init(value: String) { self.value = value }

    /// An address read back from storage (already normalised).
    package init(stored: String) { self.value = stored }
}
