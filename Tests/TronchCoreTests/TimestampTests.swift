import Foundation
import Testing

@testable import TronchCore

@Suite struct TimestampTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)), ("2026-11-25T17:46:00.123Z", 1_795_628_760_123),
        ("2026-11-25T18:46:00.123+01:00", 1_795_628_760_123), ("2026-11-25T17:46:00.1234567Z", 1_795_628_760_123),
        ("2026-11-25t17:46:00z", 1_795_628_760_000), ("2000-02-29T00:00:00Z", 951_782_400_000),
        ("1969-12-31T23:59:59.999Z", -1), ("2026-11-25T12:16:00-05:30", 1_795_628_760_000),
    ])
    func parses(text: String, milliseconds: Int64) throws {
        let date = try #require(Timestamp.parse(text))
        #expect(Timestamp.milliseconds(date) == milliseconds)
    }

    @Test(arguments: [
        "", "2026-11-25", "2026-11-25T17:46:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
        "2026-11-25T24:00:00Z", "2026-11-25T17:60:00Z", "2026-11-25T17:46:00.Z", "2026-11-25T17:46:00+0100",
        "2026-11-25T17:46:00Zjunk", "tomorrow", "2026-11-25T17:46:00+25:00",
    ])
    func rejects(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test(arguments: [Int64(0), 1_795_628_760_123, 951_782_400_000, -1, 253_402_300_799_999])
    func formatsAndParsesBack(milliseconds: Int64) throws {
        let date = Timestamp.date(milliseconds: milliseconds)
        let text = Timestamp.format(date)
        #expect(text.count == 24)
        #expect(Timestamp.parse(text).map(Timestamp.milliseconds) == milliseconds)
    }

    @Test func formatsExactly() {
        #expect(Timestamp.format(Timestamp.date(milliseconds: 1_795_628_760_123)) == "2026-11-25T17:46:00.123Z")
        #expect(Timestamp.format(Timestamp.date(milliseconds: -1)) == "1969-12-31T23:59:59.999Z")
    }
}

@Suite struct UUIDv7Tests {
    @Test func carriesVersionVariantAndTime() {
        let date = Timestamp.date(milliseconds: 1_795_628_760_123)
        let id = UUIDv7.make(at: date)
        let text = id.lowercased
        let millisHex = String(1_795_628_760_123, radix: 16)
        let padded = String(repeating: "0", count: 12 - millisHex.count) + millisHex
        #expect(text.replacingOccurrences(of: "-", with: "").prefix(12) == padded)
        #expect(Array(text)[14] == "7")
        #expect("89ab".contains(Array(text)[19]))
    }

    @Test func sortsByCreationTime() {
        let ids = (0..<50).map { UUIDv7.make(at: Timestamp.date(milliseconds: 1_700_000_000_000 + Int64($0))) }
        #expect(ids.map(\.lowercased) == ids.map(\.lowercased).sorted())
    }
}
