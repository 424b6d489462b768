import Foundation
import Hummingbird
import TronchClient
import TronchHummingbird

/// An API of your own, protected by Tronch: `/orders` for keys with the scope `orders:read` (and `orders:write`
/// to create one), `/me` for any key or signed-in person, `/health` for anyone.
///
///     TRONCH_URL=http://127.0.0.1:8080 TRONCH_VERIFY_KEY=tronch_sk_live_… TRONCH_ISSUER=http://127.0.0.1:8080 \
///         swift run ProtectedAPI
@main struct ProtectedAPI {
    static func main() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let url = environment["TRONCH_URL"], let key = environment["TRONCH_VERIFY_KEY"] else {
            print("set TRONCH_URL and TRONCH_VERIFY_KEY (a Tronch key with the scope keys:verify)")
            exit(2)
        }
        let client = TronchClient(baseURL: url, credential: .apiKey(key))
        let authenticator = TronchAuthenticator(client: client, issuer: environment["TRONCH_ISSUER"] ?? url)
        let app = Application(
            router: buildRouter(authenticator: authenticator),
            configuration: .init(address: .hostname("127.0.0.1", port: Int(environment["PORT"] ?? "") ?? 9090))
        )
        try await app.runService()
    }

    static func buildRouter(authenticator: TronchAuthenticator) -> Router<ExampleContext> {
        let router = Router(context: ExampleContext.self)
        router.get("health") { _, _ in "ok" }
        router.group("me").add(middleware: TronchMiddleware(authenticator)).get { _, context in
            let caller = try context.requireTronchIdentity()
            return Caller(kind: caller.kind.rawValue, id: caller.id, scopes: caller.scopes, role: caller.role)
        }
        let orders = router.group("orders")
        orders.group().add(middleware: TronchMiddleware(authenticator, scopes: ["orders:read"])).get { _, context in
            let caller = try context.requireTronchIdentity()
            return Orders(owner: caller.ownerID ?? caller.id, orders: ["order-1", "order-2"])
        }
        orders.group().add(middleware: TronchMiddleware(authenticator, scopes: ["orders:write"])).post { _, context in
            let caller = try context.requireTronchIdentity()
            return EditedResponse(status: .created, response: Orders(owner: caller.ownerID ?? caller.id, orders: ["order-3"]))
        }
        return router
    }
}

struct ExampleContext: TronchRequestContext {
    var coreContext: CoreRequestContextStorage
    var tronch: TronchIdentity?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

struct Caller: ResponseEncodable {
    var kind: String
    var id: String
    var scopes: [String]
    var role: String?
}

struct Orders: ResponseEncodable {
    var owner: String
    var orders: [String]
}
