# syntax=docker/dockerfile:1
# npm-mirror image: changes-producer, changes-consumer and npm-mirror on Debian 12 (bookworm).
#
#   docker build -t npm-mirror .                      # or: docker compose build
#   docker run --rm npm-mirror npm-mirror config      # the configuration a process would use
#
# The Swift standard library and Foundation are linked statically (--static-swift-stdlib), so the
# runtime stage needs only the C libraries the mirror links (librdkafka, libcurl, libarchive, zlib,
# SQLite) from Debian. Build and runtime use the same Debian release, so the librdkafka the binaries
# were built against (2.0.2) is the one they run with.
#
# SWIFT_VERSION: the dependencies pinned in Package.resolved (async-http-client 1.37, hummingbird
# 2.28, swift-service-lifecycle 2.13, swift-configuration 1.4) declare swift-tools-version 6.2, so a
# 6.1 toolchain cannot resolve them; the project is developed on 6.3 (README, Quick start).
ARG SWIFT_VERSION=6.3

# ---------------------------------------------------------------------------------------------------
FROM swift:${SWIFT_VERSION}-bookworm AS build

RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends \
        librdkafka-dev libcurl4-openssl-dev libarchive-dev zlib1g-dev libsqlite3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

COPY Package.* ./
COPY Sources ./Sources
COPY Tests ./Tests
# One build for every product (`swift build` does not build the tests; their folders are copied only
# because the manifest names them). The cache mount keeps .build (checkouts and objects) between
# image builds, so the binaries are copied out of it in the same step.
RUN --mount=type=cache,target=/build/.build \
    swift build -c release --static-swift-stdlib \
    && bin="$(swift build -c release --static-swift-stdlib --show-bin-path)" \
    && mkdir -p /staging/bin \
    && for product in changes-producer changes-consumer npm-mirror; do \
         install -m 0755 "$bin/$product" /staging/bin/; \
       done \
    && ls -l /staging/bin

# ---------------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# curl is there for the Compose health checks (GET /health on METRICS_PORT).
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends \
        librdkafka1 libcurl4 libarchive13 zlib1g libsqlite3-0 ca-certificates tzdata curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 mirror \
    && useradd --system --uid 10001 --gid mirror --home-dir /app --no-create-home --shell /usr/sbin/nologin mirror \
    && mkdir -p /app/update_seq /app/packages /app/temp_packages /app/dbdata \
    && chown -R mirror:mirror /app

COPY --from=build /staging/bin/changes-producer /staging/bin/changes-consumer /staging/bin/npm-mirror /usr/local/bin/
COPY --chown=mirror:mirror config.json run_scripts.sh /app/
RUN chmod 0755 /app/run_scripts.sh

WORKDIR /app
USER mirror:mirror

# The defaults of UPDATE_SEQ_DIR, REMOTE_PACKAGE_DIR, LOCAL_PACKAGE_DIR and DBDATA_DIR are relative
# to the working directory, so they land in these volumes.
VOLUME ["/app/update_seq", "/app/packages", "/app/temp_packages", "/app/dbdata"]

ENV CONFIG_FILE=/app/config.json \
    SWIFT_BACKTRACE=enable=yes,interactive=no

# Metrics of the producer (9101) and consumer (9102; run_scripts.sh uses 9102 + i).
EXPOSE 9101 9102

# Any of the executables, or /app/run_scripts.sh for everything in one container.
CMD ["changes-producer"]
