import Foundation
package import TronchCore
import TronchStorage

/// Keys that sign their requests (RFC 9421 HTTP Message Signatures, `hmac-sha256`): the signing secret is
/// drawn at create or rotate, returned once, and kept sealed with the secrets key; a verification of such a
/// key checks the request's signature between the address and the scopes.
extension KeyService {
    /// What a verification knows of the request the key came with.
    package struct SignatureEvidence: Sendable {
        package var request: SignedRequest
        /// The SHA-256 of the request's body, when the caller computed it: then the signed `content-digest`
        /// must match it.
        package var bodySHA256: [UInt8]?

        package init(request: SignedRequest, bodySHA256: [UInt8]? = nil) {
            self.request = request
            self.bodySHA256 = bodySHA256
        }
    }

    /// A new signing secret: 32 random bytes, as base64url without padding (the HMAC key is those bytes),
    /// and its sealed form for key `id`.
    func newSigningSecret(for id: UUID) throws -> (secret: String, sealed: String) {
        guard let secrets else { throw DomainError(.serviceUnavailable, "this server cannot seal signing secrets") }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return (Base64URL.encode(bytes), try secrets.seal(bytes, context: Self.signingContext(id)))
    }

    /// The sealed secret is bound to its key: copied to another key's row, it does not open.
    static func signingContext(_ id: UUID) -> String { SealedSecret.keySigningSecretContext(id) }

    /// The signature's verdict for a key that signs: `VALID`, or why not.
    func signatureCode(_ record: KeyRecord, _ evidence: SignatureEvidence?, now: Date) async -> VerifyCode {
        guard let sealed = record.signingSecret else { return .valid }
        guard let evidence else { return .signatureInvalid }
        guard let secrets, let secret = try? secrets.open(sealed, context: Self.signingContext(record.id)) else {
            // A secret this node cannot open (a secrets key it does not hold) cannot vouch for anything.
            return .signatureInvalid
        }
        switch RequestSignature.verify(
            evidence.request,
            secret: secret,
            keyID: record.id.lowercased,
            now: now,
            bodySHA256: evidence.bodySHA256
        ) {
        case .failure(.invalid):
            return .signatureInvalid
        case .failure(.expired):
            return .signatureExpired
        case .success(let accepted):
            let first = await nonces.claim(keyID: record.id, nonce: accepted.nonce, until: accepted.rememberUntil, now: now)
            return first ? .valid : .signatureReplayed
        }
    }
}
