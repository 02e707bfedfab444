# Common helpers of the examples (examples/{zookeeper,redis,haproxy}/run.sh source this file after setting
# `example`): a throw-away coordination ZooKeeper, free ports, pods in their own process groups, checks and
# clean-up.
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
