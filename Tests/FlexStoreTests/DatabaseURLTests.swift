import FlexStore
import Testing

@Suite("Database URLs")
struct DatabaseURLTests {
    @Test("file paths and sqlite: URLs name SQLite files, resolved against the working directory")
    func sqlitePaths() throws {
        #expect(
            try DatabaseURL(parsing: "flexbridge.sqlite", workingDirectory: "/srv")
                == .sqlite(path: "/srv/flexbridge.sqlite")
        )
        #expect(
            try DatabaseURL(parsing: "sqlite:data/x.db", workingDirectory: "/srv") == .sqlite(path: "/srv/data/x.db")
        )
        #expect(
            try DatabaseURL(parsing: "sqlite:///var/lib/fb.sqlite", workingDirectory: "/srv")
                == .sqlite(path: "/var/lib/fb.sqlite")
        )
        #expect(try DatabaseURL(parsing: "/abs/fb.sqlite") == .sqlite(path: "/abs/fb.sqlite"))
    }

    @Test("postgres URLs keep their parts and hide the password when printed")
    func postgres() throws {
        let url = try DatabaseURL(parsing: "postgres://fb:secret@db.local:5433/flexbridge")
        #expect(url.kind == .postgres)
        #expect(url.description == "postgres://fb:***@db.local:5433/flexbridge")
        #expect(try DatabaseURL(parsing: "postgresql://fb@db/flexbridge").kind == .postgres)
    }

    @Test(
        "unusable URLs are refused with the reason",
        arguments: [
            ("", "empty"),
            ("mysql://u@h/db", "scheme \"mysql\" is not supported"),
            ("postgres://", "expected postgres://"),
            ("postgres://db.local/flexbridge", "names no user"),
            ("postgres://u:pw@h:99999/db", "out of range"),
            ("sqlite:", "names no SQLite file"),
        ]
    )
    func invalid(text: String, reason: String) {
        let error = #expect(throws: StoreError.self) { try DatabaseURL(parsing: text) }
        #expect(error?.code == .invalidDatabaseURL)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("pw") == false)
    }
}
