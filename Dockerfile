# The Ochopod image: the static binary alone, on scratch. It is not meant to run by itself: the workload's
# image takes the binary from it and makes it the entrypoint (DESIGN §11), e.g.
#
#   FROM ochopod:dev AS ochopod
#   FROM redis:7
#   COPY --from=ochopod /ochopod /usr/local/bin/ochopod
#   ENTRYPOINT ["ochopod", "run"]
#
# deploy/kubernetes/README.md builds the images its manifests use this way.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags='-s -w' -o /out/ochopod ./cmd/ochopod

FROM scratch
COPY --from=build /out/ochopod /ochopod
ENTRYPOINT ["/ochopod"]
CMD ["version"]
