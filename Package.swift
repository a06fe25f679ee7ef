// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "npm-mirror",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "changes-producer", targets: ["changes-producer"]),
        .executable(name: "changes-consumer", targets: ["changes-consumer"]),
        .executable(name: "npm-mirror", targets: ["npm-mirror"]),
        .executable(name: "npm-registry-sim", targets: ["npm-registry-sim"]),
        .executable(name: "npm-mirror-bench", targets: ["npm-mirror-bench"]),
        .executable(name: "npm-mirror-chaos", targets: ["npm-mirror-chaos"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/attaswift/BigInt.git", from: "6.0.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/JohnSundell/Ink.git", from: "0.6.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    ],
    targets: [
        // librdkafka, from Debian's librdkafka-dev.
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // syncfs(2), which Swift's Glibc module does not expose.
        .target(name: "CFileSystem"),
        // libarchive, from Debian's libarchive-dev.
        .systemLibrary(
            name: "CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]
        ),
        // Hash-sharded package store: name encoding, atomic writes, gzip'd packuments,
        // tarball verification (digests + archive safety), version retention.
        .target(
            name: "MirrorStore",
            dependencies: [
                "NPMNames",
                "CArchive", "CFileSystem", "MirrorRuntime", "MirrorJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // SQLite, from Debian's libsqlite3-dev (the embedded record database).
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // The record-store interface, its CouchDB implementation and the embedded SQLite one.
        .target(
            name: "MirrorRecords",
            dependencies: [
                "NPMNames",
                "CSQLite",
                "MirrorJSON", "MirrorRuntime",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // What every part of the project runs on: the threads blocking calls run on (librdkafka's, the
        // store's, checkpoint files), backoff and `retrying`, shutdown-aware waits, a service run beside a
        // scope and stopped when it ends (the doubles' `with…` scopes), the Prometheus metrics endpoint, a
        // service run beside it, and the executables' logging.
        .target(
            name: "MirrorRuntime",
            dependencies: [
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test support: an in-process CouchDB 3.x protocol double with fault hooks.
        .target(
            name: "CouchDBDouble",
            dependencies: [
                "NPMNames",
                "MirrorJSON",
                "MirrorRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Swift over librdkafka: producer, group consumer, admin, embedded mock cluster.
        .target(
            name: "MirrorKafka",
            dependencies: [
                "CRdKafka", "MirrorRuntime",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // One configuration type: config.json < environment < command-line flags; and the record store
        // a configuration names (the one opener of `serve`, `verify`, `status` and the embedded mirror).
        .target(
            name: "MirrorConfig",
            dependencies: [
                "MirrorSignatures", "MirrorRecords",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // JSON: the single-pass scanner shared by the registry clients and the record stores, `JSONValue`
        // (records) with its parser and writer, the one string escaper.
        .target(
            name: "MirrorJSON",
            swiftSettings: swiftSettings
        ),
        // The web pages' HTML: templates, the README's Markdown made inert, the stylesheet.
        .target(
            name: "MirrorWeb",
            dependencies: [
                "NPMNames",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Ink", package: "Ink"),
            ],
            swiftSettings: swiftSettings
        ),
        // npm's naming rules: package names, registry paths, one percent encoder and decoder, query strings.
        .target(
            name: "NPMNames",
            dependencies: ["MirrorJSON"],
            swiftSettings: swiftSettings
        ),
        // Clients of the npm registry: the replicate service's changes feed, packuments, tarballs.
        .target(
            name: "NPMRegistry",
            dependencies: [
                "NPMNames",
                "MirrorJSON", "MirrorSignatures", "MirrorRuntime",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // npm registry signatures and provenance, checked offline: the registry's keys, `dist.signatures`,
        // the publish attestation's DSSE signature and every attestation's subject; a signer for the simulator.
        .target(
            name: "MirrorSignatures",
            dependencies: [
                "MirrorJSON",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The services: changes follower, lag watchdog, checkpoints, metrics endpoint.
        .target(
            name: "MirrorPipeline",
            dependencies: [
                "MirrorKafka", "MirrorConfig", "MirrorJSON", "NPMRegistry", "MirrorStore", "MirrorRecords", "MirrorRuntime", "MirrorSignatures", "MirrorReconcile",
                "MirrorOffline", "MirrorLockfiles",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // What npm, pnpm and yarn lockfiles name (package-lock.json v1–v3, pnpm-lock.yaml v6/v9,
        // yarn.lock classic and berry): packages, versions, integrity, and what is not a registry package.
        .target(
            name: "MirrorLockfiles",
            dependencies: [
                "MirrorJSON", "NPMNames",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Offline installs: pin sets (versions kept whatever the retention limit says) and whether the
        // store can serve what a lockfile names (`npm-mirror check-lockfile`, `npm-mirror pin`).
        .target(
            name: "MirrorOffline",
            dependencies: [
                "MirrorLockfiles", "MirrorStore", "MirrorJSON", "MirrorRuntime", "NPMNames", "NPMRegistry",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `npm-mirror reconcile`: the registry's list of every package (`_all_docs`) walked beside the
        // mirror's package records; missing and stale packages handed to a sender, vanished ones reported.
        .target(
            name: "MirrorReconcile",
            dependencies: [
                "NPMRegistry", "MirrorRecords", "MirrorRuntime", "MirrorJSON",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `npm-mirror verify`: the whole store re-checked offline (tarball digests, signatures,
        // attestations, records, unexplained files), and one packument file's signatures.
        .target(
            name: "MirrorVerify",
            dependencies: [
                "MirrorRuntime", "MirrorStore", "MirrorSignatures", "NPMRegistry", "MirrorRecords", "MirrorJSON", "MirrorConfig",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `npm-mirror export`: the mirror as tables (SQLite, CSV) with a manifest that pins and checks them.
        .target(
            name: "MirrorExport",
            dependencies: [
                "CSQLite", "MirrorJSON", "MirrorRecords", "MirrorStore", "MirrorRuntime", "MirrorSignatures",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `npm-mirror serve`: the store as a read-only npm registry (derived documents, HTTP, search).
        .target(
            name: "MirrorServe",
            dependencies: [
                "MirrorWeb",
                "NPMNames",
                "MirrorSignatures",
                "MirrorRuntime",
                "MirrorStore", "MirrorRecords", "MirrorJSON", "MirrorConfig",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The all-in-one mirror: `npm-mirror run` (embedded broker and database), `demo`, `status`.
        .target(
            name: "MirrorEmbedded",
            dependencies: [
                "MirrorPipeline", "MirrorKafka", "MirrorConfig", "MirrorRecords", "MirrorStore", "NPMRegistry", "MirrorServe", "MirrorRuntime",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `npm-mirror demo`: the simulator in-process, mirrored to the end (kept out of MirrorEmbedded so
        // `npm-mirror run` does not carry the simulator's generator and faults in its library).
        .target(
            name: "EmbeddedDemo",
            dependencies: [
                "MirrorEmbedded", "MirrorPipeline", "MirrorKafka", "MirrorConfig", "MirrorRecords", "MirrorStore", "RegistrySimulator",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The npm registry simulator (replicate + registry services, fault injection).
        .target(
            name: "RegistrySimulator",
            dependencies: [
                "NPMNames",
                "MirrorJSON", "MirrorSignatures",
                "MirrorRuntime",
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "changes-producer",
                dependencies: [
                "MirrorRuntime", "MirrorConfig", "MirrorKafka", "MirrorPipeline",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "changes-consumer",
            dependencies: [
                "MirrorRuntime", "MirrorConfig", "MirrorKafka", "MirrorPipeline", "MirrorRecords",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "npm-mirror",
            dependencies: [
                "MirrorRuntime", "MirrorConfig", "MirrorKafka", "MirrorEmbedded", "EmbeddedDemo", "MirrorPipeline", "MirrorServe", "MirrorVerify", "MirrorReconcile", "MirrorExport", "MirrorSignatures", "MirrorStore", "MirrorRecords", "MirrorJSON",
                "MirrorOffline", "MirrorLockfiles",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "npm-registry-sim",
            dependencies: [
                "RegistrySimulator",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the benchmark and the reliability suite share: child processes (measured, killable),
        // metrics files, the environment of the pipeline's processes.
        .target(
            name: "MirrorHarness",
            dependencies: [
                "MirrorRuntime", "MirrorConfig", "MirrorKafka",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The benchmark: the real binaries against a generated registry, beside curl.
        .executableTarget(
            name: "npm-mirror-bench",
            dependencies: [
                "NPMNames",
                "MirrorHarness", "MirrorConfig", "MirrorKafka", "MirrorStore", "NPMRegistry", "RegistrySimulator", "CouchDBDouble",
                "MirrorVerify", "MirrorSignatures", "CArchive", "MirrorRecords", "MirrorRuntime",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The reliability suite: kills, faults and hostile input against the real binaries, then an audit.
        .executableTarget(
            name: "npm-mirror-chaos",
            dependencies: [
                "NPMNames",
                "MirrorHarness", "MirrorRuntime", "MirrorConfig", "MirrorKafka", "MirrorPipeline", "MirrorRecords", "MirrorStore", "NPMRegistry", "RegistrySimulator", "CouchDBDouble",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the test targets share (loggers, temporary folders, child processes, the built binaries,
        // simulator and consumer-harness scopes); test targets depend on it, production targets never do.
        .target(
            name: "MirrorTestSupport",
            dependencies: [
                "MirrorPipeline", "MirrorHarness", "MirrorKafka", "MirrorConfig", "NPMRegistry", "RegistrySimulator", "MirrorRecords", "MirrorStore", "CouchDBDouble",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/MirrorTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NPMNamesTests",
            dependencies: ["NPMNames", "MirrorJSON"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorKafkaTests",
            dependencies: ["MirrorKafka", "CRdKafka", "MirrorTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorPipelineTests",
            dependencies: [
                "NPMNames",
                "MirrorRuntime", "MirrorTestSupport",
                "MirrorPipeline", "MirrorHarness", "MirrorKafka", "MirrorConfig", "NPMRegistry", "MirrorSignatures", "RegistrySimulator", "MirrorRecords", "MirrorStore", "CouchDBDouble", "MirrorReconcile", "MirrorExport",
                "MirrorOffline",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorRecordsTests",
            dependencies: [
                "MirrorTestSupport",
                "MirrorRecords",
                "CouchDBDouble",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorExportTests",
            dependencies: [
                "MirrorExport", "MirrorTestSupport", "MirrorJSON", "MirrorRecords", "MirrorStore", "MirrorConfig", "MirrorEmbedded", "EmbeddedDemo", "MirrorSignatures",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Readers"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorStoreTests",
            dependencies: [
                "MirrorHarness",
                "MirrorStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorSignaturesTests",
            dependencies: [
                "MirrorSignatures", "MirrorJSON",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorEmbeddedTests",
            dependencies: [
                "MirrorHarness",
                "MirrorRuntime", "MirrorTestSupport", "CouchDBDouble",
                "MirrorEmbedded", "EmbeddedDemo", "MirrorConfig", "MirrorRecords", "MirrorStore", "RegistrySimulator", "MirrorPipeline", "MirrorServe", "MirrorReconcile", "NPMRegistry",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // The built binaries end to end: the reliability suite, the benchmark's smoke run, the processes'
        // signals and exit codes. The binaries are found in NPM_MIRROR_BINARIES (default .build/debug).
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "MirrorHarness",
                "MirrorTestSupport", "MirrorEmbedded", "MirrorConfig", "MirrorRecords", "MirrorStore", "MirrorPipeline", "MirrorKafka", "RegistrySimulator",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorServeTests",
            dependencies: [
                "MirrorHarness",
                "MirrorTestSupport", "CouchDBDouble",
                "MirrorServe", "MirrorStore", "MirrorRecords", "MirrorConfig", "MirrorEmbedded", "EmbeddedDemo", "RegistrySimulator", "MirrorSignatures", "MirrorWeb", "MirrorJSON",
                "MirrorPipeline",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorVerifyTests",
            dependencies: [
                "MirrorTestSupport", "CouchDBDouble",
                "MirrorVerify", "MirrorStore", "MirrorSignatures", "MirrorRecords", "MirrorConfig", "MirrorJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorLockfilesTests",
            dependencies: ["MirrorLockfiles"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorOfflineTests",
            dependencies: [
                "MirrorOffline", "MirrorLockfiles", "MirrorStore", "MirrorJSON", "MirrorTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MirrorConfigTests",
            dependencies: ["MirrorConfig", "MirrorKafka", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RegistrySimulatorTests",
            dependencies: [
                "MirrorHarness",
                "MirrorTestSupport",
                "RegistrySimulator", "MirrorSignatures", "MirrorJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
