import Foundation
import Testing
import TronchCore

@Suite struct UUIDStrictTests {
    @Test func onlyTheCanonicalFormIsAnId() {
        let id = "01a24afa-1c3d-7e2f-9a4b-5c6d7e8f9a0b"
        #expect(UUID(strict: id)?.uuidString.lowercased() == id)
        #expect(UUID(strict: id.uppercased())?.uuidString.lowercased() == id)
        for text in [
            "-1a24afa-1c3d-7e2f-9a4b-5c6d7e8f9a0b", "+1a24afa-1c3d-7e2f-9a4b-5c6d7e8f9a0b", " 1a24afa-1c3d-7e2f-9a4b-5c6d7e8f9a0b",
            "01a24afa-1c3d-7e2f-9a4b-5c6d7e8f9a0", "01a24afa1c3d7e2f9a4b5c6d7e8f9a0b", "01a24afa-1c3d-7e2f-9a4b-5c6d7e8f9a0g",
            "{01a24afa-1c3d-7e2f-9a4b-5c6d7e8f9a0b}", "01a24afa-1c3d-7e2f-9a4b_5c6d7e8f9a0b", "",
        ] {
            #expect(UUID(strict: text) == nil, "\(text)")
        }
        #expect(PrincipalReference("user:+1a24afa-1c3d-7e2f-9a4b-5c6d7e8f9a0b") == nil)
    }
}
