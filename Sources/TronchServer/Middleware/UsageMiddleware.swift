import Foundation
import Hummingbird
import TronchCore

/// Counts each request on Tronch's own API for the key that made it: route pattern, status class, latency.
/// Runs after authentication, so only requests made with a valid key are counted.
struct UsageMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let usage: UsageRecorder
    let clock: WallClock

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let route = "\(request.method) \(context.endpointPath ?? "unmatched")"
        do {
            let response = try await next(request, context)
            record(context, route: route, status: response.status.code, since: start)
            return response
        } catch {
            record(context, route: route, status: Self.status(of: error), since: start)
            throw error
        }
    }

    private func record(_ context: AppRequestContext, route: String, status: Int, since start: ContinuousClock.Instant) {
        // Usage is counted per key; a person's access token has none.
        guard let keyID = context.principal?.keyID else { return }
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        usage.recordRequest(by: keyID, route: route, status: status, milliseconds: milliseconds, at: clock.now)
    }

    /// The status the error will be answered with (what ``ProblemMiddleware`` will send).
    static func status(of error: any Error) -> Int {
        switch error {
        case let error as APIError: error.status.code
        case let error as DomainError: APIError(error).status.code
        case is RateLimitRefusal: 429
        case let error as any HTTPResponseError: error.status.code
        default: 500
        }
    }
}
