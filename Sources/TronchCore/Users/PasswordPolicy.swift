import Foundation

/// NIST SP 800-63B-4 password rules: a minimum length counted in Unicode code points after NFKC, a maximum
/// of 256, any characters, no composition rules (they push people to `Password1!`), and refusal of common
/// passwords and of passwords that contain the account's own names.
package struct PasswordPolicy: Sendable {
    package static let maxLength = 256
    /// Context words shorter than this are not checked (a two-letter e-mail name would refuse half the
    /// dictionary).
    package static let minContextWordLength = 3

    package var minLength: Int
    package var blocklist: CommonPasswords

    package init(minLength: Int = 12, blocklist: CommonPasswords = .shipped) {
        self.minLength = minLength
        self.blocklist = blocklist
    }

    /// The password as hashed: NFKC-normalised, so that the same password typed on two keyboards is one.
    package static func normalize(_ password: String) -> String { password.precomposedStringWithCompatibilityMapping }

    /// Why `password` is refused for this account, or nil when it is acceptable. `field` names it in the error.
    package func problem(_ password: String, username: String, email: EmailAddress?, field: String = "password") -> FieldError? {
        let normalized = Self.normalize(password)
        let length = normalized.unicodeScalars.count
        func refuse(_ message: String) -> FieldError { FieldError(field: field, message: message) }
        if length < minLength { return refuse("must be at least \(minLength) characters (it has \(length))") }
        if length > Self.maxLength { return refuse("must be at most \(Self.maxLength) characters") }
        let lowered = normalized.lowercased()
        if blocklist.contains(lowered) {
            return refuse("is one of the most common passwords, which attackers try first; choose another")
        }
        var context = [("the username", username.lowercased()), ("the name of the product", "tronch")]
        if let email { context.append(("the e-mail address", String(email.localPart).lowercased())) }
        for (what, word) in context where word.unicodeScalars.count >= Self.minContextWordLength {
            if lowered.contains(word) { return refuse("must not contain \(what)") }
        }
        return nil
    }
}

/// The common passwords refused as they are (compared lower-cased): the 20,000 of Django's list, shipped in
/// ``CommonPasswordList``, read once.
package struct CommonPasswords: Sendable {
    private let entries: Set<String>

    package init(_ entries: some Sequence<String>) { self.entries = Set(entries.map { $0.lowercased() }) }

    package static let shipped = CommonPasswords(
        CommonPasswordList.text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    )

    package var count: Int { entries.count }

    package func contains(_ lowered: String) -> Bool { entries.contains(lowered) }
}
