# Entry points of the project (README). The examples need the Debian packages zookeeper, redis-server and haproxy.
.PHONY: demo examples test release image

# The demo: a ZooKeeper ensemble of three members configured by Ochopod, checked with srvr and zkCli.sh.
demo:
	examples/zookeeper/run.sh

# Every example (ZooKeeper, Redis, HAProxy), one after the other, and a summary.
examples:
	examples/run-all

# Every test (go test -race ./...), integration tests on real ZooKeeper servers.
test:
	.ci/test

# Static binaries for a release (DESIGN §11): CGO_ENABLED=0 (no libc, pure-Go DNS), linux/amd64 and
# linux/arm64, into dist/. The version comes from the build information (`ochopod version`): a tag when the
# module is built at one (go install ...@v0.1.0), the VCS revision from a checkout.
PLATFORMS ?= linux/amd64 linux/arm64
release:
	@mkdir -p dist
	@for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=dist/ochopod-$$os-$$arch; \
		echo "building $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -buildvcs=true -ldflags='-s -w' -o $$out ./cmd/ochopod || exit 1; \
	done
	@cd dist && sha256sum ochopod-* > SHA256SUMS && cat SHA256SUMS

# The container image: the static binary alone on scratch (Dockerfile).
IMAGE ?= ochopod:dev
image:
	docker build -t $(IMAGE) .
