import Crypto
import CryptoExtras
import Foundation
import JWTKit
import Synchronization
import TronchCore

/// The signing keys this node uses: the active one signs, active and passive ones verify, retired ones do
/// nothing. Built from the stored records (private keys opened with the secrets key); replaced whole when
/// the stored set changes, so a request never sees half a rotation.
final class SigningKeys: Sendable {
    struct Ring: Sendable {
        /// The active key's id and the collection that signs with it.
        var active: (kid: String, algorithm: SigningKeyRecord.Algorithm, signer: JWTKeyCollection)?
        /// Public keys that verify (active and passive), by kid, with the algorithm each is for.
        var verifiers: [String: (algorithm: SigningKeyRecord.Algorithm, keys: JWTKeyCollection)]
        /// The JWKS document: the public keys of the active and passive keys.
        var jwks: String
        var records: [SigningKeyRecord]
    }

    /// The ring, and the number of the read it was built from.
    private let ring = Mutex((ring: Ring(active: nil, verifiers: [:], jwks: #"{"keys":[]}"#, records: []), read: UInt64(0)))
    /// Numbers the reads of the stored keys in the order they begin.
    private let reads = Atomic<UInt64>(0)

    var current: Ring { ring.withLock { $0.ring } }

    /// Reads the stored keys with `read` and rebuilds the ring from them, unless a read that began later has
    /// already replaced it.
    ///
    /// Reloads overlap (start-up's after it creates the first key, the periodic one, a rotation's), and a
    /// read that began before a change can finish after one that saw it: installing its older set would take
    /// the new key away (the first key: no token could be signed until the next reload). A read numbered after
    /// a change was committed sees it, and every change is followed by such a read (the writer's own reload,
    /// the other nodes' next ones), so keeping the highest-numbered read's set always ends on the newest.
    func reload(secrets: SecretBox, reading read: () async throws -> [SigningKeyRecord]) async throws {
        let number = reads.add(1, ordering: .relaxed).newValue
        let records = try await read()
        let unchanged = ring.withLock { state in
            guard state.ring.records == records else { return false }
            state.read = max(state.read, number)
            return true
        }
        if unchanged { return }
        let built = try await build(records, secrets: secrets)
        ring.withLock { state in
            guard number > state.read else { return }
            state = (built, number)
        }
    }

    /// A ring of `records`, their private keys opened with `secrets`.
    private func build(_ records: [SigningKeyRecord], secrets: SecretBox) async throws -> Ring {
        var active: (kid: String, algorithm: SigningKeyRecord.Algorithm, signer: JWTKeyCollection)?
        var verifiers: [String: (SigningKeyRecord.Algorithm, JWTKeyCollection)] = [:]
        var jwks: [String] = []
        for record in records where record.state != .retired {
            let pem = String(decoding: try secrets.open(record.sealedPrivateKey, context: Self.context(record.kid)), as: UTF8.self)
            let kid = JWKIdentifier(string: record.kid)
            let verifier = JWTKeyCollection()
            let signer = JWTKeyCollection()
            switch record.algorithm {
            case .es256:
                let key = try ES256PrivateKey(pem: pem)
                await verifier.add(ecdsa: key.publicKey, kid: kid)
                if record.state == .active { await signer.add(ecdsa: key, kid: kid) }
            case .rs256:
                let key = try Insecure.RSA.PrivateKey(pem: pem)
                await verifier.add(rsa: key.publicKey, digestAlgorithm: .sha256, kid: kid)
                if record.state == .active { await signer.add(rsa: key, digestAlgorithm: .sha256, kid: kid) }
            }
            verifiers[record.kid] = (record.algorithm, verifier)
            jwks.append(record.publicJWK)
            if record.state == .active { active = (record.kid, record.algorithm, signer) }
        }
        let document = #"{"keys":["# + jwks.joined(separator: ",") + "]}"
        return Ring(
            active: active,
            verifiers: verifiers.mapValues { (algorithm: $0.0, keys: $0.1) },
            jwks: document,
            records: records
        )
    }

    /// A new signing key: generated here, its private key sealed for storage, its public key as a JWK.
    static func generate(
        _ algorithm: SigningKeyRecord.Algorithm,
        state: SigningKeyRecord.State,
        secrets: SecretBox,
        now: Date
    )
        throws -> SigningKeyRecord
    {
        let pem: String
        var jwk: [String: JSONValue]
        switch algorithm {
        case .es256:
            let key = P256.Signing.PrivateKey()
            pem = key.pemRepresentation
            let raw = Array(key.publicKey.rawRepresentation)
            jwk = [
                "kty": "EC", "crv": "P-256", "x": .string(Base64URL.encode(Array(raw[0..<32]))),
                "y": .string(Base64URL.encode(Array(raw[32..<64]))),
            ]
        case .rs256:
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            pem = key.pemRepresentation
            let primitives = try key.publicKey.getKeyPrimitives()
            jwk = [
                "kty": "RSA", "n": .string(Base64URL.encode(Array(primitives.modulus))),
                "e": .string(Base64URL.encode(Array(primitives.publicExponent))),
            ]
        }
        // RFC 7638 thumbprint as the kid: stable, and derived from the public key alone.
        let kid = thumbprint(jwk)
        jwk["kid"] = .string(kid)
        jwk["alg"] = .string(algorithm.rawValue)
        jwk["use"] = "sig"
        return SigningKeyRecord(
            kid: kid,
            algorithm: algorithm,
            state: state,
            sealedPrivateKey: try secrets.seal(Array(pem.utf8), context: context(kid)),
            publicJWK: try JSONValue.encodeCanonical(JSONValue.object(jwk)),
            createdAt: now
        )
    }

    /// RFC 7638: SHA-256 over the required members in lexicographic order, base64url.
    static func thumbprint(_ jwk: [String: JSONValue]) -> String {
        let required = jwk["kty"] == "EC" ? ["crv", "kty", "x", "y"] : ["e", "kty", "n"]
        let members = required.map { name in "\"\(name)\":\"\(jwk[name]?.string ?? "")\"" }.joined(separator: ",")
        return Base64URL.encode(Array(SHA256.hash(data: Array("{\(members)}".utf8))))
    }

    /// The associated data a signing key's sealed private key is bound to.
    static func context(_ kid: String) -> String { "signing-key:\(kid)" }
}
