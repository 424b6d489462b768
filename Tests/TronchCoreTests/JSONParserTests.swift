import Foundation
import Testing

@testable import TronchCore

@Suite struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test func parsesEveryKindOfValue() throws {
        let value = try parse(
            #" { "a": [1, -2, 3.5, 1e3, -0, 0.25E-2], "b": {"c": null, "d": true, "e": false}, "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\udd11" } "#
        )
        #expect(
            value
                == .object([
                    "a": .array([.int(1), .int(-2), .double(3.5), .double(1000), .int(0), .double(0.0025)]),
                    "b": .object(["c": .null, "d": .bool(true), "e": .bool(false)]),
                    "s": .string("x\"\\/\u{8}\u{c}\n\r\té🔑"),
                ])
        )
        #expect(try parse("[]") == .array([]))
        #expect(try parse("{}") == .object([:]))
        #expect(try parse("\"ünïcödé 🙂\"") == .string("ünïcödé 🙂"))
        #expect(try parse("9223372036854775807") == .int(Int64.max))
        #expect(try parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{'a':1}", "[01]", "[1.]", "[.5]", "[1e]", "[-]",
        "[+1]", "tru", "nul", "[NaN]", "[Infinity]", "\"\\x\"", "\"a\nb\"", "\"\\ud800\"", "\"\\udc00x\"", "\"\\u12\"",
        "{\"a\":1}{", "{\"a\":1} x", "{\"a\":1,\"a\":2}", "[1e999]", "\"unterminated",
    ])
    func rejectsMalformedInput(text: String) {
        #expect(throws: JSONParser.Failure.self) { _ = try parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParser.Failure.self) { _ = try JSONParser.parse([0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test func limitsNesting() throws {
        let ok = String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        #expect(throws: Never.self) { _ = try parse(ok) }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParser.Failure.self) { _ = try parse(deep) }
        let hostile = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParser.Failure.self) { _ = try parse(hostile) }
    }

    @Test func agreesWithFoundationOnValidInput() throws {
        let samples = [
            #"{"name":"Acme","scopes":["a:b","c"],"meta":{"n":[1,2,{"x":null}],"f":0.5},"enabled":false}"#,
            #"[-1.25e-3, 12345678901234, "\u0041\u00DF", {}, []]"#,
        ]
        for sample in samples {
            let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(sample.utf8))
            #expect(try parse(sample) == foundation)
        }
    }
}
