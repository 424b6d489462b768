import Foundation
import Testing
import TronchCore

@Suite struct HexEncodingTests {
    @Test func everyByteIsTwoLowercaseDigitsAsFormatWritesThem() {
        let bytes = (0...255).map(UInt8.init)
        #expect(bytes.hexEncoded == bytes.map { String(format: "%02x", $0) }.joined())
        #expect([UInt8]().hexEncoded.isEmpty)
        #expect([0x00, 0x0A, 0xFF].prefix(2).hexEncoded == "000a")
    }
}
