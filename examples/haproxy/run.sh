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

# shellcheck source=../lib.sh
source "$here/../lib.sh"

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
