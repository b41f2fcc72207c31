# syntax=docker/dockerfile:1
# layering-detection-layering: the layering service (port 8001) FROM scratch, a static
# binary running as uid/gid 1000. Build with the services module as the context:
#
#   docker build -f services/docker/layering.Dockerfile --build-arg VERSION=$(cat VERSION) \
#     -t layering-detection-layering:$(cat VERSION) services
#
# `make images` builds the same image without a Docker engine (tools/mkimage).
# The root file system may be read-only: the service writes only to the
# mounted OUTPUT_DIR and LOGS_DIR (aggregator), never to /tmp.
# Go 1.25 or later (services/go.mod): GOMAXPROCS follows the container's CPU limit.
ARG GO_VERSION=1.25
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/layering-detection/kubectl-layering/services/version.Version=${VERSION}" \
      -o /out/layering-service ./cmd/layering-service \
 && mkdir -m 1777 /out/tmp

FROM scratch
COPY --from=build /out/tmp /tmp
COPY --from=build /out/layering-service /layering-service
USER 1000:1000
ENV PORT=8001
EXPOSE 8001
HEALTHCHECK --interval=30s --timeout=10s --start-period=5s --retries=3 CMD ["/layering-service", "-healthcheck"]
ENTRYPOINT ["/layering-service"]
