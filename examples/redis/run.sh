#!/usr/bin/env bash
# A Redis primary and two replicas configured by Ochopod from pod.yaml: the pod of index 0 is the primary, the
# others replicate it. Checked with redis-cli (INFO replication, a key written on the primary read on the
# replicas); then the primary's pod is stopped (SIGTERM, as a container stop): the cluster is reconfigured,
# the new index 0 becomes the primary with the data, the other replica follows it. Checked again.
#
#   examples/redis/run.sh
#
# Needs Go and the Debian packages zookeeper and redis-server. Everything runs on 127.0.0.1, on free ports, in
# a temporary directory; nothing is left running when the script ends (ok, failed or interrupted).
# OCHOPOD=path uses that binary instead of building one. KEEP=1 keeps the temporary directory for a look.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
example=redis
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
  echo "no Redis: apt-get install redis-server" >&2
  exit 1
}

# shellcheck source=../lib.sh
source "$here/../lib.sh"

# ---------------------------------------------------------------------------------------------------------------
# rcli NAME ARGS...: redis-cli on the pod's Redis.
rcli() { timeout 5 redis-cli -h 127.0.0.1 -p "${redis[$1]}" "${@:2}" | tr -d '\r'; }
# repl NAME KEY: a field of the pod's INFO replication.
repl() { rcli "$1" info replication 2>/dev/null | sed -n "s/^$2://p"; }
# topology_is PRIMARY REPLICA...: PRIMARY is a master with that many replicas, each linked to it.
topology_is() {
  local p=$1 r
  shift
  [ "$(repl "$p" role)" = master ] && [ "$(repl "$p" connected_slaves)" = $# ] || return 1
  for r in "$@"; do
    [ "$(repl "$r" role)" = slave ] && [ "$(repl "$r" master_link_status)" = up ] &&
      [ "$(repl "$r" master_port)" = "${redis[$p]}" ] || return 1
  done
}
# by_key NAME...: the names sorted by their pods' keys, as Ochopod ranks them (index 0 first).
by_key() {
  local n
  for n in "$@"; do printf '%s %s\n' "$(field "$(info "$n")" key)" "$n"; done | sort | cut -d' ' -f2
}
# show NAME...: each pod's Redis role, and the first line of the redis.conf Ochopod rendered for it.
show() {
  local n
  for n in "$@"; do
    say "$(printf '%-8s' "$n") port ${redis[$n]}: role:$(repl "$n" role)$(
      [ "$(repl "$n" role)" = master ] && echo " connected_slaves:$(repl "$n" connected_slaves)" ||
        echo " master_port:$(repl "$n" master_port) master_link_status:$(repl "$n" master_link_status)"
    )   (redis.conf: $(head -n 1 "$work/$n/redis.conf" | cut -c3- | cut -d, -f1-2))"
  done
}
# probe_status NAME...: the cluster's status, as the leader's probe last saw it.
probe_status() {
  local n js
  for n in "$@"; do
    js=$(info "$n")
    [[ $(field "$js" state) == leader ]] && { field "$js" status; return; }
  done
}

step "a coordination ZooKeeper for Ochopod, and the ochopod binary"
start_zk
build

step "three pods of examples.redis (pod.yaml), each with its own Redis port"
names=(redis-a redis-b redis-c)
declare -A redis=()
for n in "${names[@]}"; do
  free_port p
  redis[$n]=$p
  start_pod "$n" "$here/pod.yaml" PORT_6379="$p"
  say "$n: control port ${pod_port[$n]}; container port 6379 on host port $p"
done

step "the leader configures the cluster (damper 1s): index 0 is the primary, the others replicate it"
# Keys are random: which pod is index 0 is known once they registered.
registered() { for n in "${names[@]}"; do [ -n "$(field "$(info "$n")" key)" ] || return 1; done; }
wait_for 30 "the pods to register" registered
mapfile -t ranked < <(by_key "${names[@]}")
primary=${ranked[0]}
say "ranked by key: ${ranked[*]} → $primary is the primary"
wait_for 60 "$primary primary, ${ranked[1]} and ${ranked[2]} replicating it" topology_is "${ranked[@]}"
show "${ranked[@]}"
pods

step "a key written on the primary is read on both replicas"
value="written on $primary at $(date +%T)"
[ "$(rcli "$primary" set greeting "$value")" = OK ] || fail "SET on $primary"
say "$primary: SET greeting \"$value\""
for n in "${ranked[@]:1}"; do
  replicated() { [ "$(rcli "$n" get greeting)" = "$value" ]; }
  wait_for 10 "greeting on $n" replicated
  say "$n: GET greeting → \"$value\""
done
probe_sees() { [[ $(probe_status "${names[@]}") == "127.0.0.1:${redis[$1]} is master with $2 replica"* ]]; }
wait_for 15 "the leader's probe to see the primary and its replicas" probe_sees "$primary" 2
say "the leader's probe (status in /info): $(probe_status "${names[@]}")"

step "the primary's pod ($primary) is stopped: SIGTERM to its ochopod, as a container stop"
declare -A pid_before=()
for n in "${ranked[@]:1}"; do pid_before[$n]=$(field "$(info "$n")" pid); done
began=$(date +%s%N)
stop_pod "$primary"
say "$primary is gone (its Redis saved and stopped; its node left ZooKeeper)"
left=("${ranked[@]:1}")
mapfile -t ranked < <(by_key "${left[@]}")
say "ranked by key: ${ranked[*]} → ${ranked[0]} must become the primary"
wait_for 60 "${ranked[0]} primary, ${ranked[1]} replicating it" topology_is "${ranked[@]}"
say "replication is back $((($(date +%s%N) - began) / 1000000))ms after the stop began (damper 1s)"
for n in "${ranked[@]}"; do
  now=$(field "$(info "$n")" pid)
  [ "$now" != "${pid_before[$n]}" ] || fail "$n: Redis was not restarted (strict)"
  say "$n: Redis restarted with the new topology (strict): pid ${pid_before[$n]} → $now"
done
show "${ranked[@]}"
pods

step "the data survived the fail-over, and the new primary replicates writes"
for n in "${ranked[@]}"; do
  [ "$(rcli "$n" get greeting)" = "$value" ] || fail "$n lost greeting: $(rcli "$n" get greeting)"
  say "$n: GET greeting → \"$value\""
done
[ "$(rcli "${ranked[0]}" set after failover)" = OK ] || fail "SET on ${ranked[0]}"
replicated() { [ "$(rcli "${ranked[1]}" get after)" = failover ]; }
wait_for 10 "the new write on ${ranked[1]}" replicated
say "${ranked[0]}: SET after failover; ${ranked[1]}: GET after → failover"
wait_for 15 "the leader's probe to see the new primary" probe_sees "${ranked[0]}" 1
say "the leader's probe: $(probe_status "${ranked[@]}")"

step "OK: primary and replicas chosen by index, fail-over to the new index 0 after the primary's pod left"
