import Hummingbird

/// The middleware every request passes through, outermost first, composed by hand.
///
/// The router holds its middleware as an existential, so a stack built with Hummingbird's middleware builder
/// (`_Middleware2`, `_OptionalMiddleware`) runs that library's generic code unspecialised: a profile of a
/// cached verification found 3% of the server's CPU in those frames and the type metadata they look up on
/// every request. A concrete type's nested calls are specialised and mostly inlined instead.
struct RequestStack: RouterMiddleware {
    typealias Context = AppRequestContext

    /// Outermost, so that the span covers every answer, and every log line of a request carries its trace id.
    var tracing: TracingMiddleware<AppRequestContext>?
    var requestID: RequestIDMiddleware
    var clientAddress: ClientAddressMiddleware?
    /// Outside the problem middleware: problems carry the headers too, and a page can read its errors.
    var cors: CORSMiddleware?
    /// Outside the problem middleware, so it sees the status every answer really has.
    var metrics = RequestMetricsMiddleware()
    var problem = ProblemMiddleware()
    /// Inside the problem middleware, so its refusal is a problem like any other.
    var httpsRequirement: HTTPSRequirementMiddleware?

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        try await optional(tracing, request, context) { request, context in
            try await requestID.handle(request, context: context) { request, context in
                try await optional(clientAddress, request, context) { request, context in
                    try await optional(cors, request, context) { request, context in
                        try await metrics.handle(request, context: context) { request, context in
                            try await problem.handle(request, context: context) { request, context in
                                try await optional(httpsRequirement, request, context, next)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What every route that needs a caller runs, outermost first: who is calling, their usage counted, their
/// rate limit, what the route needs of them, then a replay of an `Idempotency-Key` it has answered before.
/// Composed by hand for the reason ``RequestStack`` gives.
struct CallerStack: RouterMiddleware {
    typealias Context = AppRequestContext

    var authentication: AuthenticationMiddleware
    var usage: UsageMiddleware?
    var callerLimit: APIRateLimitMiddleware
    var permissions: EndpointPermissionMiddleware
    var idempotency: IdempotencyMiddleware

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        try await authentication.handle(request, context: context) { request, context in
            try await optional(usage, request, context) { request, context in
                try await callerLimit.handle(request, context: context) { request, context in
                    try await permissions.handle(request, context: context) { request, context in
                        try await idempotency.handle(request, context: context, next: next)
                    }
                }
            }
        }
    }
}

/// Runs `middleware` when it is configured, otherwise goes straight on.
private func optional<M: RouterMiddleware>(
    _ middleware: M?,
    _ request: Request,
    _ context: AppRequestContext,
    _ next: (Request, AppRequestContext) async throws -> Response
) async throws -> Response where M.Context == AppRequestContext {
    guard let middleware else { return try await next(request, context) }
    return try await middleware.handle(request, context: context, next: next)
}
