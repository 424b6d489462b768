#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// RFC 3339 text for instants, and the millisecond precision Tronch keeps everywhere.
///
/// Every stored and returned instant is truncated to whole milliseconds so that SQLite (integer
/// milliseconds), PostgreSQL (`timestamptz`) and JSON round-trip to exactly the same value.
package enum Timestamp {
    /// Milliseconds since the Unix epoch, rounded down.
    @inline(__always)
    package static func milliseconds(_ date: Date) -> Int64 {
        // Round to the microsecond first: a Double holding -0.001 s times 1000 is slightly below -1.
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        return Int64((micros / 1000).rounded(.down))
    }

    package static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// `date` truncated to whole milliseconds.
    package static func truncated(_ date: Date) -> Date {
        self.date(milliseconds: milliseconds(date))
    }

    /// `2026-11-25T17:46:00.123Z`: UTC, always three fractional digits.
    package static func format(_ date: Date) -> String {
        let millis = milliseconds(date)
        let (days, msOfDay) = millis.quotientAndRemainder(dividingBy: 86_400_000)
        var day = days
        var ms = msOfDay
        if ms < 0 {
            ms += 86_400_000
            day -= 1
        }
        let (year, month, dayOfMonth) = civil(fromDays: day)
        let seconds = ms / 1000
        var out = [UInt8]()
        out.reserveCapacity(24)
        func append(_ value: Int64, width: Int) {
            var digits = [UInt8](repeating: 48, count: width)
            var rest = value
            for index in stride(from: width - 1, through: 0, by: -1) {
                digits[index] = UInt8(48 + rest % 10)
                rest /= 10
            }
            out += digits
        }
        append(year, width: 4)
        out.append(45)
        append(month, width: 2)
        out.append(45)
        append(dayOfMonth, width: 2)
        out.append(84)
        append(seconds / 3600, width: 2)
        out.append(58)
        append(seconds / 60 % 60, width: 2)
        out.append(58)
        append(seconds % 60, width: 2)
        out.append(46)
        append(ms % 1000, width: 3)
        out.append(90)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses RFC 3339 date-time (`Z` or a numeric offset, optional fraction); nil when malformed.
    /// The fraction is truncated to milliseconds.
    package static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int64 = 0
            for index in range {
                guard (48...57).contains(bytes[index]) else { return nil }
                value = value * 10 + Int64(bytes[index] - 48)
            }
            return value
        }
        guard let year = number(0..<4), bytes[4] == 45, let month = number(5..<7), bytes[7] == 45,
            let day = number(8..<10), bytes[10] == 84 || bytes[10] == 116 || bytes[10] == 32,
            let hour = number(11..<13), bytes[13] == 58, let minute = number(14..<16), bytes[16] == 58,
            let second = number(17..<19)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour < 24,
            minute < 60, second < 61
        else { return nil }
        var index = 19
        var millis: Int64 = 0
        if bytes[index] == 46 {
            index += 1
            var digits = 0
            while index < bytes.count, (48...57).contains(bytes[index]) {
                if digits < 3 { millis = millis * 10 + Int64(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            if digits < 3 { for _ in digits..<3 { millis *= 10 } }
        }
        guard index < bytes.count else { return nil }
        var offsetMinutes: Int64 = 0
        switch bytes[index] {
        case 90, 122:
            index += 1
        case 43, 45:
            guard let offsetHour = number(index + 1..<index + 3), index + 3 < bytes.count, bytes[index + 3] == 58,
                let offsetMinute = number(index + 4..<index + 6), offsetHour < 24, offsetMinute < 60
            else { return nil }
            offsetMinutes = (offsetHour * 60 + offsetMinute) * (bytes[index] == 43 ? 1 : -1)
            index += 6
        default:
            return nil
        }
        guard index == bytes.count else { return nil }
        let days = days(fromCivil: year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offsetMinutes * 60
        return date(milliseconds: seconds * 1000 + millis)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // Howard Hinnant's civil-calendar algorithms.
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// Where the current time comes from; tests fix it, production reads the system clock.
package struct WallClock: Sendable {
    private let read: @Sendable () -> Date

    package init(_ read: @escaping @Sendable () -> Date) { self.read = read }

    /// The current time, truncated to milliseconds.
    package var now: Date { Timestamp.truncated(read()) }

    package static let system = WallClock { Date() }
}
