import Foundation
import TronchCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The pepper of the embedded store: generated once into the data directory, readable by its owner only.
enum PepperFile {
    static let name = "pepper"

    static func exists(in directory: String) -> Bool {
        FileManager.default.fileExists(atPath: directory + "/" + name)
    }

    /// Reads `<directory>/pepper`, creating it with 32 random bytes (hex) and mode 0600 if absent.
    /// Returns the pepper and whether it was created now.
    static func loadOrCreate(in directory: String) throws -> (pepper: [UInt8], created: Bool) {
        let (text, created) = try SecretFile.loadOrCreate(at: directory + "/" + name, what: "the pepper file") { bytes in
            bytes.hexEncoded
        }
        guard text.utf8.count >= Settings.minimumPepperBytes else {
            throw ConfigurationError(
                key: "TRONCH_DATA_DIR",
                "the pepper file \(directory)/\(name) is shorter than \(Settings.minimumPepperBytes) bytes"
            )
        }
        return (Array(text.utf8), created)
    }

    /// Creates the data directory (mode 0700) when missing.
    static func ensureDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ConfigurationError(key: "TRONCH_DATA_DIR", "'\(path)' exists and is not a directory")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: path,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw ConfigurationError(key: "TRONCH_DATA_DIR", "could not create '\(path)': \(error.localizedDescription)")
        }
    }
}

/// A secret the embedded store keeps in its data directory: created once, atomically (O_EXCL), with mode
/// 0600, from 32 random bytes; read back on every later start.
enum SecretFile {
    /// The file's text (trimmed) and whether it was created now; `encode` turns the random bytes into text.
    static func loadOrCreate(at path: String, what: String, encode: ([UInt8]) -> String) throws -> (text: String, created: Bool) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if descriptor >= 0 {
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = encode(bytes)
            let line = text + "\n"
            let written = line.withCString { write(descriptor, $0, strlen($0)) }
            close(descriptor)
            guard written == line.utf8.count else {
                unlink(path)
                throw ConfigurationError(key: "TRONCH_DATA_DIR", "could not write \(what) \(path)")
            }
            return (text, true)
        }
        guard errno == EEXIST else {
            throw ConfigurationError(key: "TRONCH_DATA_DIR", "could not create \(what) \(path): \(String(cString: strerror(errno)))")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(key: "TRONCH_DATA_DIR", "could not read \(what) \(path)")
        }
        return (String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), false)
    }
}
