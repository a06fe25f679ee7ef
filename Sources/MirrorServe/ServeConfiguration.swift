import MirrorConfig
import MirrorSignatures

/// The configuration of `npm-mirror serve`.
public struct ServeConfiguration: Sendable, Equatable {
    /// `SERVE_HOST`: the address to listen on. Default `127.0.0.1`.
    public var host: String
    /// `SERVE_PORT` (`--port`): the port; 0 picks a free one. Default 4873.
    public var port: Int
    /// `PUBLIC_URL`: the base served tarball URLs point at, without a trailing slash. Default unset:
    /// `http://<Host header>` (`https` when `X-Forwarded-Proto: https`).
    public var publicURL: String?
    /// `REMOTE_PACKAGE_DIR`: the store. It must exist.
    public var storeDirectory: String
    /// `LOCAL_PACKAGE_DIR`: the store's scratch folder (the server writes nothing there).
    public var scratchDirectory: String
    /// `SUBDIRECTORY_HASH_LENGTH`.
    public var shardLength: Int
    /// `FETCH_TARBALLS`: true serves only versions whose tarball is held; false serves every
    /// version and answers 404 for tarballs.
    public var fetchTarballs: Bool
    /// `PACKUMENT_MAX_SIZE`: the largest stored packument read.
    public var maximumPackumentBytes: Int
    /// Longest time to build an answer (the head; streaming a body is bounded by the write stall
    /// timeout instead). Default 30 s.
    public var requestTimeout: Duration = .seconds(30)
    /// A connection that sends nothing for this long between requests, or while sending one, is
    /// closed. Default 60 s.
    public var idleTimeout: Duration = .seconds(60)
    /// A connection with a response being sent none of whose writes completes for this long (a client
    /// that reads nothing) is closed; an answer still being worked out is bounded by `requestTimeout`,
    /// and an idle keep-alive connection by `idleTimeout`. Default 60 s.
    public var writeStallTimeout: Duration = .seconds(60)
    /// Connections open at once; further ones wait in the listen backlog. Default 1,024.
    public var maximumConnections: Int = 1_024
    /// How long a "deleted" answer from the records is reused. Default 30 s.
    public var deletionCacheTime: Duration = .seconds(30)
    /// The registry keys the mirror trusts, answered at `/-/npm/v1/keys` (`NPM_SIGNING_KEYS`, or
    /// npm's built-in keys).
    public var signingKeys: TrustedKeys = .npmBuiltIn
    /// `UPDATE_SEQ_DIR`: the producer's and consumer's checkpoints, which the home page shows (nil:
    /// not shown).
    public var checkpointDirectory: String?
    /// `SERVE_MIN_AGE`: versions published less than this long ago are left out of the documents
    /// (dist-tags move as for versions not held) and their tarballs answered 404. Default nil: off.
    public var minimumAge: Duration?
    /// `SERVE_FAST_PATH`: packuments and tarballs answered on the event loop (``FastPathHandler``).
    /// Default true; false sends every request through Hummingbird's responder.
    public var fastPath: Bool = true
    /// `SERVE_FAST_PATH_CACHE`: the bytes of packument answers the fast path keeps in memory.
    /// Default 256 MB.
    public var fastPathCacheBytes: Int = 256_000_000
    /// How often the home page's counts over the package records are taken again. Default 15 min.
    public var overviewInterval: Duration = .seconds(15 * 60)

    public init(
        host: String = "127.0.0.1",
        port: Int = 4873,
        publicURL: String? = nil,
        storeDirectory: String,
        scratchDirectory: String,
        shardLength: Int,
        fetchTarballs: Bool = true,
        maximumPackumentBytes: Int = 100 << 20
    ) {
        self.host = host
        self.port = port
        self.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.storeDirectory = storeDirectory
        self.scratchDirectory = scratchDirectory
        self.shardLength = shardLength
        self.fetchTarballs = fetchTarballs
        self.maximumPackumentBytes = maximumPackumentBytes
    }

    /// The serve settings of a mirror configuration.
    ///
    /// - Throws: ``ConfigurationError`` for an `NPM_SIGNING_KEYS` file that is not a keys document.
    public init(_ configuration: MirrorConfiguration) throws(ConfigurationError) {
        self.init(
            host: configuration.serve.host,
            port: configuration.serve.port,
            publicURL: configuration.serve.publicURL,
            storeDirectory: configuration.storage.remotePackageDirectory,
            scratchDirectory: configuration.storage.localPackageDirectory,
            shardLength: configuration.storage.subdirectoryHashLength,
            fetchTarballs: configuration.consumer.fetchTarballs,
            maximumPackumentBytes: Int(clamping: configuration.consumer.packumentMaxSize)
        )
        signingKeys = try configuration.trustedSigningKeys()
        checkpointDirectory = configuration.storage.updateSeqDirectory
        minimumAge = configuration.serve.minimumAge
        fastPath = configuration.serve.fastPath
        fastPathCacheBytes = Int(clamping: configuration.serve.fastPathCacheBytes)
    }
}
