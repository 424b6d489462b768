/// Small named values the server keeps about itself (for example a fingerprint of the pepper, so that
/// starting with the wrong pepper is caught instead of failing every verification).
package protocol SettingsStore: Sendable {
    /// Stores `value` under `name` unless a value is already there; returns the stored value either way.
    func claimSetting(_ name: String, value: String) async throws -> String

    /// The value stored under `name`, if any.
    func setting(_ name: String) async throws -> String?
}
