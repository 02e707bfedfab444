# Entry points of the project (README). The examples need the Debian packages zookeeper, redis-server and haproxy.
.PHONY: demo examples test

# The demo: a ZooKeeper ensemble of three members configured by Ochopod, checked with srvr and zkCli.sh.
demo:
	examples/zookeeper/run.sh

# Every example (ZooKeeper, Redis, HAProxy), one after the other, and a summary.
examples:
	examples/run-all

# Every test (go test -race ./...), integration tests on real ZooKeeper servers.
test:
	.ci/test
