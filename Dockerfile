# Quaver: one binary. cgo is needed for libopus (bundled by layeh.com/gopus),
# so the build stage has gcc; the runtime stage only needs libc and CA roots.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 CGO_CFLAGS='-O3' go build -trimpath -ldflags "-s -w" -o /out/quaver ./cmd/quaver

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/quaver /usr/local/bin/quaver
USER 65532:65532
VOLUME /data
ENV QUAVER_DATA_DIR=/data
ENTRYPOINT ["/usr/local/bin/quaver"]
CMD ["serve"]
