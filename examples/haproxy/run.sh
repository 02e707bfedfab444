#!/usr/bin/env bash
# A web cluster (three pods, each an HTTP server serving a page naming it) behind an lb cluster (one pod,
# HAProxy, depends_on web), configured by Ochopod from web.yaml and lb.yaml: HAProxy's backends are the web
# pods of the last configuration. Checked with HTTP requests through HAProxy: every web pod answers; a web pod
# is added: it answers through HAProxy too; one is stopped: it no longer does, and the others answer without
# errors. Requests keep going through HAProxy during the changes; their failures are counted and shown.
#
#   examples/haproxy/run.sh
#
# Needs Go and the Debian packages zookeeper and haproxy. Everything runs on 127.0.0.1, on free ports, in a
# temporary directory; nothing is left running when the script ends (ok, failed or interrupted).
# OCHOPOD=path uses that binary instead of building one. KEEP=1 keeps the temporary directory for a look.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
example=haproxy
[ -x /usr/sbin/haproxy ] || {
  echo "no HAProxy: apt-get install haproxy" >&2
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
# through_lb: one request through HAProxy; prints the name of the web pod that answered.
through_lb() { http_get "$lb_port" / | cut -d' ' -f1; }
# served_by N: N requests through HAProxy; prints "name count" for each pod that answered; fails on an error.
served_by() {
  local i name out=""
  for ((i = 0; i < $1; i++)); do
    name=$(through_lb) && [ -n "$name" ] || return 1
    out+="$name"$'\n'
  done
  sort <<<"${out%$'\n'}" | uniq -c | awk '{print $2, $1}'
}
# serves_exactly NAME...: 3 rounds of round robin through HAProxy reach exactly these web pods, without error.
serves_exactly() {
  local got want
  got=$(served_by $((3 * $#))) || return 1
  want=$(printf '%s\n' "$@" | sort)
  [ "$(cut -d' ' -f1 <<<"$got")" = "$want" ]
}
# backends: the server lines of the haproxy.cfg Ochopod rendered for the lb pod.
backends() { grep -c '^  server ' "$work/lb/haproxy.cfg" 2>/dev/null || true; }
# show_lb N: the backends of haproxy.cfg, who answers N requests through HAProxy, and a page (web.yaml's).
show_lb() {
  say "haproxy.cfg: $(head -n 1 "$work/lb/haproxy.cfg" | cut -c3-)"
  say "through HAProxy, $1 requests: $(served_by "$1" | tr '\n' ' ')"
  say "a page: $(http_get "$lb_port" /)"
}

# load: requests through HAProxy every 20ms until stopped, one line each in $work/load.out: "<ms> <name|error>".
start_load() {
  (
    while :; do
      r=$(through_lb) && [ -n "$r" ] || r=error
      echo "$((($(date +%s%N) - t0) / 1000000)) $r"
      sleep 0.02
    done >"$work/load.out" 2>/dev/null
  ) &
  load_pid=$!
  helpers+=("$load_pid")
}
stop_load() { kill "$load_pid" 2>/dev/null && wait "$load_pid" 2>/dev/null || true; }

step "a coordination ZooKeeper for Ochopod, the ochopod binary and the web server"
start_zk
build
(cd "$root" && go build -o "$work/bin/web" ./examples/haproxy/web) || fail "go build ./examples/haproxy/web"
say "built $work/bin/web"

# web_pod NAME: a pod of examples.web (web.yaml) on a free port.
web_pod() {
  local p
  free_port p
  start_pod "$1" "$here/web.yaml" PORT_8080="$p" WEB_NAME="$1" PATH="$work/bin:$PATH"
  say "$1: control port ${pod_port[$1]}; container port 8080 on host port $p"
}

step "three pods of examples.web (web.yaml) and one of examples.lb (lb.yaml, depends_on: [web])"
for n in web-a web-b web-c; do web_pod "$n"; done
free_port lb_port
start_pod lb "$here/lb.yaml" PORT_80="$lb_port"
say "lb: control port ${pod_port[lb]}; container port 80 on host port $lb_port (HAProxy's frontend)"

step "web is configured, then lb with web's pods: HAProxy balances the three of them"
wait_for 60 "HAProxy serving web-a, web-b and web-c" serves_exactly web-a web-b web-c
pods
show_lb 12
describe web-a web-b web-c lb
lb_pid=$(field "$(info lb)" pid)

start_load
step "a fourth web pod joins: web is configured again, then lb (HAProxy restarted with four backends)"
began=$(date +%s%N)
web_pod web-d
wait_for 60 "HAProxy serving the four web pods" serves_exactly web-a web-b web-c web-d
say "web-d answers through HAProxy $((($(date +%s%N) - began) / 1000000))ms after it started (two dampers of 1s)"
show_lb 12
now=$(field "$(info lb)" pid)
[ "$now" != "$lb_pid" ] || fail "HAProxy was not restarted"
say "lb: HAProxy restarted with the new backends: pid $lb_pid → $now"
lb_pid=$now

step "web-b is stopped (SIGTERM to its ochopod): it leaves web, then lb's backends"
began=$(date +%s%N)
stop_pod web-b
gone() { [ "$(backends)" = 3 ] && ! grep -q "web-b" <<<"$(served_by 6)"; }
wait_for 60 "HAProxy without web-b" gone
say "web-b no longer in HAProxy's backends $((($(date +%s%N) - began) / 1000000))ms after its stop began"
wait_for 10 "the three web pods that are left, without errors" serves_exactly web-a web-c web-d
show_lb 12
errors=$(served_by 30 >/dev/null && echo 0 || echo "some")
[ "$errors" = 0 ] || fail "errors through HAProxy after web-b left"
say "30 more requests through HAProxy: no error, none served by web-b"
stop_load

step "requests made through HAProxy every 20ms while the web cluster changed"
total=$(wc -l <"$work/load.out")
failed=$(grep -c ' error$' "$work/load.out" || true)
say "$total requests, $failed failed; by web pod: $(awk '$2 != "error" {print $2}' "$work/load.out" | sort | uniq -c | awk '{printf "%s %s  ", $2, $1}')"
# HAProxy's restarts, from the lb pod's log: "<ms since start> down|up" for each tear-down and start.
t0ms=$((t0 / 1000000))
grep 'actor=lifecycle' "$work/lb.log" | grep -E 'msg="(tearing the process down|process started)"' |
  while read -r line; do
    ts=$(sed -n 's/^time=\([^ ]*\) .*/\1/p' <<<"$line")
    [[ $line == *'process started'* ]] && what=up || what=down
    echo "$(($(date -d "$ts" +%s%3N) - t0ms)) $what"
  done >"$work/restarts.out"
say "HAProxy restarts (ms since start, down → up): $(awk '$2 == "down" {d = $1} $2 == "up" && d {printf "%s → %s  ", d, $1; d = 0}' "$work/restarts.out")"
if ((failed > 0)); then
  say "failed requests (ms since start, when they ended): $(awk '$2 == "error" {printf "%s ", $1}' "$work/load.out")"
  # A request refused while HAProxy restarts is expected (a pod whose dependencies changed is restarted);
  # any other failure (a web pod gone before HAProxy's backends follow, say) is not.
  unexplained=$(awk 'NR == FNR {if ($2 == "down") d[n++] = $1; else u[n - 1] = $1; next}
                     $2 == "error" {ok = 0; for (i = 0; i < n; i++) if ($1 >= d[i] && $1 <= u[i] + 1000) ok = 1; if (!ok) printf "%s ", $1}' \
    "$work/restarts.out" "$work/load.out")
  [ -z "$unexplained" ] || fail "requests failed outside HAProxy's restarts, at $unexplained(ms since start)"
  say "every failure was during one of HAProxy's restarts (stopping the old one, starting the new one)"
fi

step "OK: HAProxy follows the web cluster: every pod served, a pod added is served, a pod removed is not"
