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

# >>> common helpers: the same block in examples/{zookeeper,redis,haproxy}/run.sh (examples/run-all checks it)
# A throw-away coordination ZooKeeper, free ports, pods in their own process groups, checks, clean-up.
ZKBIN=/usr/share/zookeeper/bin
work=$(mktemp -d "${TMPDIR:-/tmp}/ochopod-$example.XXXXXX")
t0=$(date +%s%N)
elapsed() { local ms=$((($(date +%s%N) - t0) / 1000000)); printf '%4d.%ds' $((ms / 1000)) $((ms % 1000 / 100)); }
say() { printf '%s  %s\n' "$(elapsed)" "$*"; }
step() { printf '\n%s  == %s\n' "$(elapsed)" "$*"; }
fail() {
  say "FAILED: $*"
  exit 1
}

declare -a pod_groups=() server_groups=() # the process groups we started (setsid: pgid = pid)
declare -a helpers=()                      # background jobs of this script (same process group)
declare -A pod_pid=() pod_port=()          # pod name -> pid of its `ochopod run`, its control port

# stop_groups SECONDS PGID...: SIGTERM to each group, SIGKILL to what is left of them SECONDS later.
stop_groups() {
  local secs=$1 pid alive
  shift
  (($#)) || return 0
  for pid in "$@"; do kill -TERM -- "-$pid" 2>/dev/null; done
  for _ in $(seq $((secs * 10))); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL -- "-$pid" 2>/dev/null; done
}

cleanup() {
  local rc=$? p f
  trap - EXIT INT TERM
  set +e
  ((${#helpers[@]} == 0)) || kill "${helpers[@]}" 2>/dev/null
  if ((rc != 0)); then
    step "the pods when it failed: in ZooKeeper (ochopod pods), then their /info"
    pods
    for p in "${!pod_pid[@]}"; do kill -0 "${pod_pid[$p]}" 2>/dev/null && describe "$p"; done
  fi
  # The pods first (each tears its process down and leaves ZooKeeper), then the servers.
  stop_groups 20 "${pod_groups[@]}"
  stop_groups 10 "${server_groups[@]}"
  # Anything still running in the temporary directory is ours (a process whose pod was SIGKILLed).
  for p in /proc/[0-9]*; do
    case $(readlink "$p/cwd" 2>/dev/null) in "$work" | "$work"/*) kill -KILL "${p#/proc/}" 2>/dev/null ;; esac
  done
  if ((rc != 0)); then
    for f in "$work"/*.log; do
      [ -f "$f" ] && { printf '\n--- %s (last lines)\n' "${f#"$work"/}"; tail -n 20 "$f"; }
    done
  fi
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.2s until it succeeds; fails after SECONDS.
wait_for() {
  local secs=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + secs))
  until "$@"; do
    (($(date +%s) < deadline)) || fail "$what: not within ${secs}s"
    sleep 0.2
  done
}

# free_port VAR: sets VAR to a port nothing listens on, below the ephemeral range, not given out before.
declare -A taken=()
free_port() {
  local _free
  while :; do
    _free=$((20000 + RANDOM % 12000))
    [ -z "${taken[$_free]:-}" ] || continue
    (exec 3<>"/dev/tcp/127.0.0.1/$_free") 2>/dev/null && continue
    taken[$_free]=1
    printf -v "$1" '%s' "$_free"
    return
  done
}

# tcp PORT TEXT: sends TEXT (printf %b) to 127.0.0.1:PORT and prints the answer (four-letter words, HTTP/1.0).
tcp() {
  timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "%b" "$1" >&3 && cat <&3' "$1" "$2" 2>/dev/null
}

# http_get PORT PATH: the body of GET http://127.0.0.1:PORT/PATH; fails unless the status is 200.
http_get() {
  local out
  out=$(tcp "$1" "GET $2 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n") || return 1
  [[ $out == "HTTP/1."?" 200 "* ]] || return 1
  sed '1,/^\r$/d' <<<"$out"
}

# info NAME: the pod's /info (JSON), from its control port.
info() { tcp "${pod_port[$1]}" 'POST /info HTTP/1.0\r\nContent-Length: 0\r\n\r\n' | sed '1,/^\r$/d'; }

# field JSON KEY: the value of a string or number field (enough for /info; no jq needed).
field() { sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$1" | head -n 1; }

# describe NAME...: each pod as its /info shows it: Ochopod state, process, the last sanity check's metrics.
describe() {
  local name js metrics
  for name in "$@"; do
    js=$(info "$name")
    metrics=$(sed -n 's/.*"metrics":\({[^}]*}\).*/\1/p' <<<"$js" | grep -v '^{}$' || true)
    say "$(printf '%-6s' "$name") ochopod $(field "$js" state), process $(field "$js" process) (pid $(field "$js" pid))${metrics:+, sanity check $metrics}"
  done
}

# start_zk: the coordination ZooKeeper Ochopod registers in, standalone, on a free port of 127.0.0.1.
start_zk() {
  [ -x "$ZKBIN/zkServer.sh" ] || fail "no ZooKeeper: apt-get install zookeeper"
  free_port zk_port
  mkdir -p "$work/coordination/data"
  cat >"$work/coordination/zoo.cfg" <<CFG
tickTime=200
initLimit=20
syncLimit=10
dataDir=$work/coordination/data
clientPortAddress=127.0.0.1
clientPort=$zk_port
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
forceSync=no
CFG
  # JMXDISABLE: no JMX agent, whose RMI connector would listen on every interface.
  (cd "$work/coordination" && JMXDISABLE=true SERVER_JVMFLAGS="-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData" \
    exec setsid "$ZKBIN/zkServer.sh" start-foreground "$work/coordination/zoo.cfg" >"$work/coordination.log" 2>&1 </dev/null) &
  server_groups+=($!)
  zk_serving() { tcp "$zk_port" srvr | grep -q '^Mode: standalone'; }
  wait_for 60 "the coordination ZooKeeper on 127.0.0.1:$zk_port" zk_serving
  say "coordination ZooKeeper serving on 127.0.0.1:$zk_port"
}

# build: the ochopod binary, or $OCHOPOD if set.
build() {
  if [ -n "${OCHOPOD:-}" ]; then
    ochopod=$OCHOPOD
    say "using $ochopod"
  else
    ochopod=$work/bin/ochopod
    (cd "$root" && go build -o "$ochopod" ./cmd/ochopod) || fail "go build ./cmd/ochopod"
    say "built $ochopod"
  fi
}

# start_pod NAME SPEC [VAR=VALUE...]: `ochopod run --spec SPEC` in its own process group, its process in
# $work/NAME (cwd), on a free control port, with the variables given (PORT_<n>...); output in $work/NAME.log.
start_pod() {
  local name=$1 spec=$2 port
  shift 2
  free_port port
  mkdir -p "$work/$name"
  env "$@" setsid "$ochopod" run --spec "$spec" --binding local --port "$port" --zk "127.0.0.1:$zk_port" \
    --cwd "$work/$name" >"$work/$name.log" 2>&1 </dev/null &
  pod_pid[$name]=$!
  pod_port[$name]=$port
  pod_groups+=($!)
}

# stop_pod NAME: SIGTERM to the pod, as a container stop does; waits until it is gone.
stop_pod() {
  local pid=${pod_pid[$1]}
  kill -TERM "$pid"
  gone() { ! kill -0 "$pid" 2>/dev/null; }
  wait_for 30 "$1 to stop" gone
}

# pods: what Ochopod holds in ZooKeeper (ROLE: the pod leading the cluster's configuration).
pods() { [ -n "${ochopod:-}" ] && [ -n "${zk_port:-}" ] && "$ochopod" pods --zk "127.0.0.1:$zk_port" --timeout 5s 2>&1 | sed 's/^/          /'; }
# <<< common helpers

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
