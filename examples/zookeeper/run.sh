#!/usr/bin/env bash
# A ZooKeeper ensemble of three members, configured by Ochopod from pod.yaml: each member's myid is its pod's
# seq + 1 and every member lists all the pods as server.N. Checked with real clients: srvr shows one leader
# and two followers, and a znode written on one member is read on every member.
#
#   examples/zookeeper/run.sh          (or: make demo)
#
# Needs Go and the Debian package zookeeper. Everything runs on 127.0.0.1, on free ports, in a temporary
# directory; nothing is left running when the script ends (ok, failed or interrupted). OCHOPOD=path uses that
# binary instead of building one. KEEP=1 keeps the temporary directory (logs, zoo.cfg...) for a look.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
example=zookeeper

# shellcheck source=../lib.sh
source "$here/../lib.sh"

# ---------------------------------------------------------------------------------------------------------------
step "a coordination ZooKeeper for Ochopod, and the ochopod binary"
start_zk
build

step "three pods of examples.zookeeper (pod.yaml), each with its own client, quorum and election ports"
members=(zk-a zk-b zk-c)
declare -A client=()
for m in "${members[@]}"; do
  free_port c
  free_port q
  free_port e
  client[$m]=$c
  start_pod "$m" "$here/pod.yaml" PORT_2181="$c" PORT_2888="$q" PORT_3888="$e"
  say "$m: control port ${pod_port[$m]}; container ports 2181, 2888, 3888 on host ports $c, $q, $e"
done

step "the leader configures the cluster (damper 2s): every member starts with the same server list"
# mode PORT: the member's mode (leader, follower...), from srvr.
mode() { tcp "$1" srvr | sed -n 's/^Mode: //p'; }
ensemble_ready() {
  local modes="" m
  for m in "${members[@]}"; do modes+="$(mode "${client[$m]}") "; done
  [[ $modes == *leader* && $(grep -o follower <<<"$modes" | wc -l) -eq 2 ]]
}
wait_for 60 "one ZooKeeper leader and two followers" ensemble_ready
say "ZooKeeper serves. In Ochopod's view (ROLE: the pod leading the configuration, not ZooKeeper's leader):"
pods
describe "${members[@]}"

step "what Ochopod rendered: myid = seq + 1, and the same server.N lines everywhere"
ref=$(grep '^server\.' "$work/${members[0]}/zoo.cfg")
for m in "${members[@]}"; do
  myid=$(cat "$work/$m/data/myid")
  [ "$(grep '^server\.' "$work/$m/zoo.cfg")" = "$ref" ] || fail "$m has another server list"
  grep -q "^server\.$myid=127\.0\.0\.1:[0-9]*:[0-9]*$" "$work/$m/zoo.cfg" || fail "$m: myid $myid is not one of the servers"
  say "$m: myid=$myid $(grep '^clientPort=' "$work/$m/zoo.cfg")"
done
sed 's/^/          /' <<<"$ref"

step "srvr on each member: one leader, two followers"
leaders=0 followers=0
for m in "${members[@]}"; do
  md=$(mode "${client[$m]}")
  say "$m (myid $(cat "$work/$m/data/myid")): Mode: $md"
  case $md in leader) leaders=$((leaders + 1)) ;; follower) followers=$((followers + 1)) ;; esac
done
((leaders == 1 && followers == 2)) || fail "want one leader and two followers, got $leaders and $followers"

step "a znode created on one member is read on every member (zkCli.sh)"
zkcli() { JMXDISABLE=true timeout 30 "$ZKBIN/zkCli.sh" -server "127.0.0.1:$1" "${@:2}" 2>&1; }
value="hello-from-${members[0]}-$RANDOM"
out=$(zkcli "${client[${members[0]}]}" create /ochopod-example "$value") || fail "create on ${members[0]}: $out"
grep -q 'Created /ochopod-example' <<<"$out" || fail "create on ${members[0]}: $out"
say "${members[0]}: create /ochopod-example $value"
for m in "${members[@]}"; do
  read_back() { zkcli "${client[$m]}" get /ochopod-example | grep -qx "$value"; }
  wait_for 20 "/ochopod-example on $m" read_back
  say "$m: get /ochopod-example → $value"
done

step "OK: a three-member ZooKeeper ensemble configured by Ochopod; one leader, two followers, writes replicated"
