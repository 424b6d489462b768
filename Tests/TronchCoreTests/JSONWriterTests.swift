import Foundation
import Testing
import TronchCore

struct JSONWriterTests {
    @Test func writesWhatJSONParsersReadBack() throws {
        let value: JSONValue = [
            "text": "quote \" backslash \\ slash / newline \n tab \t bell \u{07} ünïcode 🔑",
            "numbers": [1, -2, 1.5, 1e20, 0], "flags": [true, false, .null], "empty": [:], "nested": ["a": ["b": []]],
        ]
        var writer = JSONWriter()
        writer.value(value)
        let text = String(decoding: writer.bytes, as: UTF8.self)
        #expect(try JSONParser.parse(writer.bytes) == value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(writer.bytes)) == value)
        #expect(text.hasPrefix(#"{"empty":{},"flags":[true,false,null],"nested":"#), "members sorted, no spaces")
        #expect(text.contains(#"\u0007"#) && text.contains(#"\n"#) && text.contains("🔑"))
    }

    @Test func objectsAndArraysSeparateTheirMembers() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("a")
        writer.strings(["x", "y"])
        writer.key("b")
        writer.int(nil)
        writer.key("c")
        writer.beginArray()
        writer.beginObject()
        writer.endObject()
        writer.beginObject()
        writer.key("d")
        writer.bool(true)
        writer.endObject()
        writer.endArray()
        writer.endObject()
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #"{"a":["x","y"],"b":null,"c":[{},{"d":true}]}"#)
    }
}
