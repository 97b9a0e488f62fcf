import Foundation

/// Where the store keeps its data: an SQLite file (the embedded default) or a PostgreSQL server.
public enum DatabaseURL: Sendable, Hashable, CustomStringConvertible {
    /// An SQLite database file at an absolute path.
    case sqlite(path: String)
    /// A PostgreSQL server, as a `postgres://user:password@host:port/database` URL.
    case postgres(URL)

    /// Parses what a user wrote in `--database` or `FLEXBRIDGE_DATABASE_URL`.
    ///
    /// Accepted: `postgres://…` and `postgresql://…`; `sqlite:///absolute/path.sqlite`, `sqlite:relative.sqlite` and
    /// a plain file path, resolved against `workingDirectory`.
    public init(
        parsing text: String,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) throws(StoreError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw StoreError.invalidDatabaseURL(text, reason: "it is empty")
        }
        let lowered = trimmed.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            guard let url = URL(string: trimmed), let host = url.host, !host.isEmpty else {
                throw StoreError.invalidDatabaseURL(
                    Self.redacted(trimmed),
                    reason: "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
                )
            }
            if url.user == nil || url.user?.isEmpty == true {
                throw StoreError.invalidDatabaseURL(
                    Self.redacted(trimmed),
                    reason: "it names no user (postgres://USER@HOST/DATABASE)"
                )
            }
            if let port = url.port, !(1...65535).contains(port) {
                throw StoreError.invalidDatabaseURL(Self.redacted(trimmed), reason: "port \(port) is out of range")
            }
            self = .postgres(url)
            return
        }
        var path = trimmed
        if lowered.hasPrefix("sqlite://") {
            path = String(trimmed.dropFirst("sqlite://".count))
        } else if lowered.hasPrefix("sqlite:") {
            path = String(trimmed.dropFirst("sqlite:".count))
        } else if trimmed.contains("://") {
            let scheme = trimmed.prefix { $0 != ":" }
            throw StoreError.invalidDatabaseURL(
                Self.redacted(trimmed),
                reason: "the scheme \"\(scheme)\" is not supported; use postgres://… or an SQLite file path"
            )
        }
        guard !path.isEmpty else {
            throw StoreError.invalidDatabaseURL(trimmed, reason: "it names no SQLite file")
        }
        if !path.hasPrefix("/") {
            path = URL(fileURLWithPath: workingDirectory).appendingPathComponent(path).standardizedFileURL.path
        }
        self = .sqlite(path: path)
    }

    /// The URL with any password replaced, safe for logs and error messages.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let url): Self.redacted(url.absoluteString)
        }
    }

    /// Which database engine the URL names.
    public var kind: DatabaseKind {
        switch self {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "***"
        return components.string ?? text
    }
}

/// The database engines FlexBridge runs on.
public enum DatabaseKind: String, Sendable, Hashable {
    case sqlite
    case postgres
}
