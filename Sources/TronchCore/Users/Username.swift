/// A user's login name: 3-64 of `a-z 0-9 . _ -`, accepted in any case and kept lower-cased, so that `Alice`
/// and `alice` are one name and a login by either works.
package enum Username {
    package static let lengths = 3...64

    /// The stored form of `text`, or why it cannot be a username.
    package static func normalize(_ text: String) -> Result<String, FieldError> {
        // Checked before lower-casing, byte by byte: Unicode case mapping would turn the Kelvin sign into "k".
        guard lengths.contains(text.utf8.count),
            text.utf8.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                    || byte == UInt8(ascii: "-")
            })
        else {
            return .failure(FieldError(field: "username", message: "must be 3-64 characters of a-z, 0-9 and . _ - (any case)"))
        }
        return .success(String(decoding: text.utf8.map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 + 32 : $0 }, as: UTF8.self))
    }
}
