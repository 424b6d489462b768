/// Polls `condition` every 20 ms until it holds; throws ``EventuallyTimedOut`` after `seconds`.
package func eventually(within seconds: Double = 10, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw EventuallyTimedOut(seconds: seconds) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

package struct EventuallyTimedOut: Error, CustomStringConvertible {
    package var seconds: Double
    package var description: String { "condition not met within \(seconds) s" }
}
