import Testing

@testable import TronchCore

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("0.0.0.0", "0.0.0.0"), ("192.168.1.20", "192.168.1.20"), ("255.255.255.255", "255.255.255.255"),
        ("::", "::"), ("::1", "::1"), ("2001:db8::", "2001:db8::"), ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("fe80::1:2", "fe80::1:2"), ("::ffff:10.1.2.3", "::ffff:a01:203"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1:0:3:4:5:6:7:8", "1:0:3:4:5:6:7:8"), ("1::8", "1::8"),
        ("0:0:0:0:0:0:0:1", "::1"), ("1:2:3:4:5:6::", "1:2:3:4:5:6::"), ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
    ])
    func parsesAndPrintsCanonically(input: String, canonical: String) throws {
        let address = try #require(IPAddress(input))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "a.b.c.d", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9",
        "12345::", "fe80::1%eth0", "[::1]", "1.2.3.4:80", "::1.2.3", "1:2:3:4:5:6:7::8", " 1.2.3.4", "g::1",
    ])
    func rejectsMalformedAddresses(input: String) {
        #expect(IPAddress(input) == nil)
    }

    @Test func mappedIPv4IsUnmapped() {
        #expect(IPAddress("::ffff:10.1.2.3")?.unmapped == IPAddress("10.1.2.3"))
        #expect(IPAddress("::1")?.unmapped == IPAddress("::1"))
    }
}

@Suite struct CIDRTests {
    @Test(arguments: [
        ("10.0.0.0/8", "10.255.3.4", true), ("10.0.0.0/8", "11.0.0.1", false), ("192.168.1.7", "192.168.1.7", true),
        ("192.168.1.7", "192.168.1.8", false), ("0.0.0.0/0", "203.0.113.9", true), ("0.0.0.0/0", "::1", false),
        ("10.0.0.0/8", "::ffff:10.9.9.9", true), ("2001:db8::/32", "2001:db8:ffff::1", true),
        ("2001:db8::/32", "2001:db9::1", false), ("::/0", "::1", true), ("::/0", "1.2.3.4", false),
        ("2001:db8::/96", "2001:db8::ffff:1", true), ("2001:db8::1/128", "2001:db8::1", true),
        ("2001:db8::/65", "2001:db8::8000:0:0:0", false), ("2001:db8::/65", "2001:db8::7fff:0:0:0", true),
        ("172.16.0.0/12", "172.31.255.255", true), ("172.16.0.0/12", "172.32.0.0", false),
    ])
    func containment(range: String, address: String, expected: Bool) throws {
        let cidr = try CIDR(parsing: range)
        let ip = try #require(IPAddress(address))
        #expect(cidr.contains(ip) == expected)
    }

    @Test(arguments: ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08", "::/129", "nope", "10.0.0.0/8/8", "/8"])
    func rejectsMalformedRanges(text: String) {
        #expect(throws: CIDR.ParseError.self) { try CIDR(parsing: text) }
    }

    @Test func hostBitsAreRefusedWithASuggestion() {
        #expect(throws: CIDR.ParseError.hostBitsSet("10.1.2.3/8", suggestion: "10.0.0.0/8")) {
            try CIDR(parsing: "10.1.2.3/8")
        }
        #expect(throws: CIDR.ParseError.hostBitsSet("2001:db8::1/32", suggestion: "2001:db8::/32")) {
            try CIDR(parsing: "2001:db8::1/32")
        }
    }

    @Test func bareAddressesAreSingleHosts() throws {
        #expect(try CIDR(parsing: "1.2.3.4").description == "1.2.3.4/32")
        #expect(try CIDR(parsing: "::1").description == "::1/128")
    }
}
