import Crypto
import Foundation
import Hummingbird

/// `GET /hello`, and `POST /api/v1/keys/verify` reduced to what cannot be avoided: read the caller's bearer
/// key and the body's key, one HMAC-SHA-256 and one dictionary lookup for each, a small JSON answer.
///
///     ceiling PORT KEYS_FILE        keys, one per line (the first also serves as the caller's key)
let arguments = CommandLine.arguments
guard arguments.count == 3, let port = Int(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: ceiling PORT KEYS_FILE\n".utf8))
    exit(2)
}
struct Digester: Sendable {
    let pepper = SymmetricKey(size: .bits256)
    func callAsFunction(_ key: Substring) -> Data { Data(HMAC<SHA256>.authenticationCode(for: Data(key.utf8), using: pepper)) }
}
let digest = Digester()

var records: [Data: String] = [:]
for (index, line) in try String(contentsOfFile: arguments[2], encoding: .utf8).split(separator: "\n").enumerated() where !line.isEmpty {
    records[digest(line)] = String(format: "01a2%04x-0000-7000-8000-%012x", index % 0xFFFF, index)
}
let known = records

struct VerifyBody: Decodable { var key: String }

let router = Router()
router.get("hello") { _, _ in "Hello" }
router.post("api/v1/keys/verify") { request, context -> Response in
    guard let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer "),
        known[digest(authorization.dropFirst(7))] != nil
    else { return Response(status: .unauthorized) }
    let body = try await request.decode(as: VerifyBody.self, context: context)
    let answer: String
    if let id = known[digest(body.key[...])] {
        answer = #"{"valid":true,"code":"VALID","key_id":"\#(id)"}"#
    } else {
        answer = #"{"valid":false,"code":"NOT_FOUND"}"#
    }
    return Response(
        status: .ok,
        headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(string: answer))
    )
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
