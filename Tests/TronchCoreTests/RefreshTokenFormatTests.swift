import Testing
import TronchCore

@Suite struct RefreshTokenFormatTests {
    @Test func onlyTheShapeOfARefreshTokenLooksLikeOne() {
        let token = RefreshTokenFormat.generate(prefix: "tronch")
        #expect(RefreshTokenFormat.looksLikeRefreshToken(token))
        #expect(RefreshTokenFormat.looksLikeRefreshToken(RefreshTokenFormat.generate(prefix: "my_rt_app")), "a prefix may hold _rt_")
        let tail = String(token.suffix(43))
        #expect(!RefreshTokenFormat.looksLikeRefreshToken("_rt_" + tail), "a prefix is needed")
        #expect(!RefreshTokenFormat.looksLikeRefreshToken("tronch_rt_" + tail.dropLast()), "42 characters")
        #expect(!RefreshTokenFormat.looksLikeRefreshToken("tronch_rt_" + tail + "A"), "44 characters")
        #expect(!RefreshTokenFormat.looksLikeRefreshToken("tronch_rt_" + tail.dropLast() + "="), "not base64url")
        #expect(!RefreshTokenFormat.looksLikeRefreshToken("tronch_sk_" + tail))
        #expect(!RefreshTokenFormat.looksLikeRefreshToken(KeyFormat(prefix: "tronch")!.generate(environment: .live)))
        #expect(!RefreshTokenFormat.looksLikeRefreshToken("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"))
        #expect(!RefreshTokenFormat.looksLikeRefreshToken(""))
    }
}
