#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

extension UUID {
    /// Exactly `8-4-4-4-12` hexadecimal digits, in either case. Foundation's own parser on Linux also takes a
    /// sign, spaces or `0x` inside a group, so `-1a24afa-…` would name the id `ffa24afa-…`: every id that
    /// comes from a client is read here instead.
    package init?(strict text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return nil }
        for (index, byte) in bytes.enumerated() {
            switch index {
            case 8, 13, 18, 23: guard byte == UInt8(ascii: "-") else { return nil }
            default:
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): break
                default: return nil
                }
            }
        }
        self.init(uuidString: text)
    }
}
