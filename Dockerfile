# Tronch in a container, after the Hummingbird project's template: a release build with the Swift standard
# library linked statically, copied into a small Ubuntu image that runs it as an unprivileged user.
#
#   docker build -t tronch .
#   docker run --rm -p 8080:8080 -v tronch-data:/var/lib/tronch tronch
#
# Not built by this repository's CI (it has no Docker engine). See docs/deployment.md#docker.

# The Swift toolchain of the build stage. Tronch is developed and tested with Swift 6.3.
ARG SWIFT_VERSION=6.3

# ================================
# Build image
# ================================
FROM swift:${SWIFT_VERSION}-noble AS build

# GRDB compiles against the system's SQLite headers.
RUN export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
    && apt-get -q update \
    && apt-get -q dist-upgrade -y \
    && apt-get -q install -y libsqlite3-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# Resolve dependencies first: this layer is reused as long as Package.swift and Package.resolved do not change.
COPY ./Package.* ./
RUN swift package resolve

COPY . .

# Optimised, with the Swift standard library and Foundation linked into the binary.
RUN swift build -c release --product tronch --static-swift-stdlib

WORKDIR /staging
RUN cp "$(swift build --package-path /build -c release --show-bin-path)/tronch" ./ \
    && cp /usr/libexec/swift/linux/swift-backtrace-static ./

# ================================
# Run image
# ================================
FROM ubuntu:noble

# libsqlite3-0: the embedded store (linked dynamically). ca-certificates: the trust store that
# sslmode=verify-ca and verify-full check PostgreSQL's certificate against (add a private CA here).
RUN export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
    && apt-get -q update \
    && apt-get -q dist-upgrade -y \
    && apt-get -q install -y --no-install-recommends libsqlite3-0 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/*

# An unprivileged user that owns the data directory, and nothing else.
RUN useradd --system --user-group --no-create-home --home-dir /var/lib/tronch --shell /usr/sbin/nologin tronch \
    && install -d -o tronch -g tronch -m 0700 /var/lib/tronch

WORKDIR /app
COPY --from=build /staging /app

# The crash reporter prints a backtrace to standard error if the process crashes.
ENV SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=./swift-backtrace-static

# Listen on every interface of the container; the embedded SQLite store and its pepper live in the volume.
ENV TRONCH_HOST=0.0.0.0 \
    TRONCH_PORT=8080 \
    TRONCH_DATA_DIR=/var/lib/tronch

USER tronch:tronch
EXPOSE 8080

# No HEALTHCHECK: the image has no HTTP client. Probe GET /api/v1/health (liveness) and
# GET /api/v1/health/ready (readiness) from the orchestrator or the load balancer instead.

# `docker run IMAGE` serves; `docker run IMAGE keys generate` (or migrate, audit verify, …) runs another command.
ENTRYPOINT ["/app/tronch"]
CMD ["serve"]
