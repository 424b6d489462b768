import Foundation
import Testing

@testable import TronchCore

@Suite struct VerificationTests {
    static let now = Timestamp.date(milliseconds: 1_800_000_000_000)

    static func record(_ change: (inout KeyRecord) -> Void = { _ in }) -> KeyRecord {
        var settings = KeySettings()
        settings.scopes = ["orders:read", "billing:*"]
        var record = KeyRecord(
            id: UUIDv7.make(at: now),
            digest: KeyDigest(w0: 1, w1: 2, w2: 3, w3: 4),
            hashVersion: 1,
            start: "s",
            end: "e",
            environment: .live,
            settings: settings,
            createdAt: now.addingTimeInterval(-100)
        )
        change(&record)
        return record
    }

    func evaluate(_ record: KeyRecord?, scopes: [String] = [], ip: String? = nil) -> VerifyCode {
        KeyVerifier.evaluate(record, VerifyRequirements(scopes: scopes, clientIP: ip.flatMap { IPAddress($0) }, now: Self.now))
    }

    @Test func validKeyPasses() {
        #expect(evaluate(Self.record(), scopes: ["orders:read", "billing:refund"]) == .valid)
    }

    @Test func missingKeyIsNotFound() {
        #expect(evaluate(nil) == .notFound)
    }

    /// A key failing every check reports the first in the documented order; fixing each in turn reveals the next.
    @Test func checksRunInTheDocumentedOrder() throws {
        var record = Self.record {
            $0.status = .revoked
            $0.settings.enabled = false
            $0.settings.expiresAt = Self.now.addingTimeInterval(-1)
            $0.settings.allowedIPs = [try! CIDR(parsing: "10.0.0.0/8")]
        }
        let requirements = (scopes: ["admin:everything"], ip: "192.0.2.1")
        #expect(evaluate(record, scopes: requirements.scopes, ip: requirements.ip) == .revoked)
        record.status = .active
        #expect(evaluate(record, scopes: requirements.scopes, ip: requirements.ip) == .disabled)
        record.settings.enabled = true
        #expect(evaluate(record, scopes: requirements.scopes, ip: requirements.ip) == .expired)
        record.settings.expiresAt = nil
        #expect(evaluate(record, scopes: requirements.scopes, ip: requirements.ip) == .forbidden)
        record.settings.allowedIPs = []
        #expect(evaluate(record, scopes: requirements.scopes, ip: requirements.ip) == .insufficientScopes)
        #expect(evaluate(record, scopes: ["orders:read"], ip: requirements.ip) == .valid)
    }

    @Test func expiryIsExclusiveOfTheInstant() {
        #expect(evaluate(Self.record { $0.settings.expiresAt = Self.now }) == .expired)
        #expect(evaluate(Self.record { $0.settings.expiresAt = Self.now.addingTimeInterval(0.001) }) == .valid)
    }

    @Test func rotationGraceEndsTheOldKey() {
        #expect(evaluate(Self.record { $0.graceUntil = Self.now.addingTimeInterval(60) }) == .valid)
        #expect(evaluate(Self.record { $0.graceUntil = Self.now }) == .expired)
        let record = Self.record {
            $0.graceUntil = Self.now.addingTimeInterval(60)
            $0.settings.expiresAt = Self.now.addingTimeInterval(-1)
        }
        #expect(evaluate(record) == .expired)
        #expect(record.displayStatus(at: Self.now) == .expired)
    }

    @Test func allowlistFailsClosedWithoutAnAddress() throws {
        let record = Self.record { $0.settings.allowedIPs = [try! CIDR(parsing: "2001:db8::/32"), try! CIDR(parsing: "10.0.0.1")] }
        #expect(evaluate(record) == .forbidden)
        #expect(evaluate(record, ip: "10.0.0.1") == .valid)
        #expect(evaluate(record, ip: "::ffff:10.0.0.1") == .valid)
        #expect(evaluate(record, ip: "2001:db8::5") == .valid)
        #expect(evaluate(record, ip: "10.0.0.2") == .forbidden)
    }

    @Test func displayStatusIsDerived() {
        #expect(Self.record().displayStatus(at: Self.now) == .active)
        #expect(Self.record { $0.status = .revoked }.displayStatus(at: Self.now) == .revoked)
        #expect(Self.record { $0.settings.expiresAt = Self.now }.displayStatus(at: Self.now) == .expired)
    }
}

@Suite struct KeySettingsValidationTests {
    let now = Timestamp.date(milliseconds: 1_800_000_000_000)

    func fields(_ change: (inout KeySettings) -> Void) -> [String] {
        var settings = KeySettings()
        change(&settings)
        return settings.problems(now: now, limits: KeyLimits(metaMaxBytes: 64)).map(\.field)
    }

    @Test func defaultsAreValid() {
        #expect(fields { _ in }.isEmpty)
    }

    @Test func eachProblemNamesItsField() {
        #expect(fields { $0.name = "" } == ["name"])
        #expect(fields { $0.name = "tab\there" } == ["name"])
        #expect(fields { $0.ownerID = String(repeating: "x", count: 256) } == ["owner_id"])
        #expect(fields { $0.scopes = ["ok", "bad scope"] } == ["scopes[1]"])
        #expect(fields { $0.scopes = ["a", "a"] } == ["scopes"])
        #expect(fields { $0.meta = ["blob": .string(String(repeating: "x", count: 100))] } == ["meta"])
        #expect(fields { $0.expiresAt = now } == ["expires_at"])
        #expect(fields { $0.remaining = -1 } == ["remaining"])
        #expect(fields { $0.refill = Refill(interval: .daily, amount: 5) } == ["refill"])
        #expect(
            fields {
                $0.remaining = 10
                $0.refill = Refill(interval: .monthly, amount: 0)
            } == ["refill.amount"]
        )
        #expect(
            fields { $0.ratelimits = [RateLimitPolicy(name: "Bad Name", limit: 0, periodSeconds: 0, burst: 0)] }
                == ["ratelimits[0].name", "ratelimits[0].limit", "ratelimits[0].period_seconds", "ratelimits[0].burst"]
        )
        #expect(
            fields {
                $0.ratelimits = [RateLimitPolicy(name: "a", limit: 1, periodSeconds: 1), RateLimitPolicy(name: "a", limit: 1, periodSeconds: 1)]
            }
                == ["ratelimits[1].name"]
        )
    }

    @Test func anUnchangedPastExpiryIsNotReportedWithoutNow() {
        var settings = KeySettings()
        settings.expiresAt = now.addingTimeInterval(-10)
        #expect(settings.problems(now: nil, limits: KeyLimits()).isEmpty)
    }

    @Test func patchAppliesOnlyWhatItNames() {
        var settings = KeySettings()
        settings.name = "old"
        settings.ownerID = "owner"
        settings.remaining = 5
        var patch = KeyPatch()
        patch.name = .set("new")
        patch.remaining = .clear
        let result = patch.applied(to: settings)
        #expect(result.name == "new")
        #expect(result.ownerID == "owner")
        #expect(result.remaining == nil)
    }
}

struct CreditsTests {
    let created = Timestamp.parse("2026-03-10T12:00:00Z")!

    @Test func spendingNeverGoesBelowZero() {
        let balance = Credits.Balance(remaining: 3, refill: nil, refilledAt: created)
        let first = Credits.spend(balance, cost: 2, now: created)
        #expect(first.allowed && first.changed && first.balance.remaining == 1)
        let second = Credits.spend(first.balance, cost: 2, now: created)
        #expect(!second.allowed && !second.changed && second.balance.remaining == 1, "too few credits: nothing is spent")
        let third = Credits.spend(first.balance, cost: 1, now: created)
        #expect(third.allowed && third.balance.remaining == 0)
        let empty = Credits.spend(third.balance, cost: 0, now: created)
        #expect(!empty.allowed, "at zero even a free check is refused")
        let peek = Credits.spend(first.balance, cost: 0, now: created)
        #expect(peek.allowed && !peek.changed)
    }

    @Test func unlimitedKeysAlwaysPass() {
        let spend = Credits.spend(Credits.Balance(remaining: nil, refill: nil, refilledAt: created), cost: 1_000, now: created)
        #expect(spend.allowed && !spend.changed && spend.balance.remaining == nil)
    }

    @Test func dailyRefillsAtMidnightUTC() {
        let balance = Credits.Balance(remaining: 0, refill: Refill(interval: .daily, amount: 10), refilledAt: created)
        #expect(!Credits.spend(balance, cost: 1, now: Timestamp.parse("2026-03-10T23:59:59.999Z")!).allowed)
        let nextDay = Timestamp.parse("2026-03-11T00:00:00Z")!
        let refilled = Credits.spend(balance, cost: 1, now: nextDay)
        #expect(refilled.allowed && refilled.balance.remaining == 9 && refilled.balance.refilledAt == nextDay)
        let later = Credits.spend(refilled.balance, cost: 1, now: Timestamp.parse("2026-03-11T18:00:00Z")!)
        #expect(later.balance.remaining == 8, "one refill per day")
    }

    @Test func monthlyRefillsOnTheFirst() {
        let balance = Credits.Balance(remaining: 2, refill: Refill(interval: .monthly, amount: 100), refilledAt: created)
        #expect(Credits.spend(balance, cost: 1, now: Timestamp.parse("2026-03-31T23:00:00Z")!).balance.remaining == 1)
        let april = Credits.spend(balance, cost: 1, now: Timestamp.parse("2026-04-01T00:00:01Z")!)
        #expect(april.balance.remaining == 99)
        #expect(Credits.lastBoundary(.monthly, before: Timestamp.parse("2028-02-29T10:00:00Z")!) == Timestamp.parse("2028-02-01T00:00:00Z")!)
    }
}
