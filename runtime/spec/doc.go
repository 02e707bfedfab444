// Package spec is the declarative pod spec of `ochopod run --spec pod.yaml` (DESIGN §9, §11): a YAML file
// with the settings of `ochopod run`, the command, its environment, files rendered from the cluster, the
// callbacks of DESIGN §6 as commands (hooks), the leader's probe and the tools of /exec. With it, a container
// needs no Go code to be a pod.
//
// # Loading
//
// Load and Parse decode strictly (yaml.v3 with KnownFields): an unknown key, a value of the wrong type, a bad
// duration or mode, a hook with both argv and shell, a template that does not parse or whose source cannot be
// read are all reported at once in an *Error, one line per problem with the file and line:
//
//	pod.yaml:12: hooks.sanity_check: unknown key "timout": did you mean "timeout"? (known keys: argv, shell, timeout)
//	pod.yaml:15: port: want an integer, got "http"
//
// `ochopod run` exits with status 2 on such an error, before anything registers.
//
// # Settings and precedence
//
// Every setting of DESIGN §6, §7 and §11 has a key named like its flag, with _ for - (check_every for
// --check-every). A setting is decided by, in order: the flag given on the command line; the environment
// variable of DESIGN §9 where the setting has one (ochopod_zk, ochopod_cluster, ochopod_namespace,
// ochopod_port, ochopod_start); the spec; the built-in default. The spec is what the image ships, the
// environment is what the deployment says, the command line is what the operator types.
//
// Durations are written as Go writes them ("10s", "1m30s", "250ms") and are never negative. Modes are octal
// digits, quoted or not (0644, "0755", 0o600).
//
// # Command and env
//
// command is a list of arguments, or one string run by /bin/sh -c (as with shell: true, which then cannot
// be false). Each argument, and each value of env, is a template. A command given after -- on the command
// line replaces the spec's, taken as is. The process's environment is the pod's, then $ochopod and the
// OCHOPOD_* variables of DESIGN §11, then env.
//
// Values from the cluster are untrusted (DESIGN §12: anyone who can write to ZooKeeper or reach a control
// port may have written them) and never change a command's structure. In a list each argument stays one
// argument whatever a value holds. A command run by /bin/sh -c (one string, shell: true, or --shell) must
// pass every value it prints through shq, which quotes it as one word: {{.Self.ip | shq}}; a spec whose
// shell command prints a value otherwise does not load (file:line error). File templates are free-form:
// what they write is read by the process, which must treat those values as untrusted too. A value no exec
// can pass (a NUL byte), or data a template cannot render, answers the request 400: the pod lives.
//
// # Templates
//
// Each of templates is a file: path (relative paths are under the process's working directory, cwd), mode
// (0644 when left out), and the template as content or as source, a file relative to the spec's directory,
// read when the spec loads. Templates are Go text/template with missingkey=error: a missing map key is an
// error, not "<no value>". They see Data:
//
//	.Key .Seq .Index .Size   this pod's key, seq, rank (0..Size-1) and the cluster's size
//	.Pods                    the cluster sorted by key: .Key and .Payload (.Payload.ip, .Payload.ports...)
//	.Dependencies            each depends_on entry as declared ("api", "/prod.api", "api-*") -> the pods of
//	                         every cluster it matches, sorted by key (as the original keys them)
//	.Self                    this pod's payload: .Self.ip, .Self.public, .Self.namespace, .Self.seq...
//	.Env                     the pod's environment (.Env.HOME fails if HOME is not set; env "HOME" does not)
//
// and these helpers:
//
//	grep DEP PORT [PUBLIC]   "ip:hostport,..." of the pods of a dependency exposing container port PORT,
//	                         sorted by key, like the original's grep. DEP is a depends_on entry as declared
//	                         ("api", "/prod.api", "api-*"), or one cluster among them ("prod.api-2", "api-2"
//	                         in this pod's namespace), "" this pod's own cluster; PUBLIC true uses the public
//	                         address. An unknown or empty dependency gives "".
//	dependency DEP           the pods of DEP (as grep names it), sorted by key: .Key and .Payload of each
//	port POD PORT            the host port POD (an element of .Pods, or .Self) maps container port PORT to
//	json V                   V as JSON
//	join SEP LIST            the elements of LIST joined by SEP
//	env NAME                 the pod's environment variable NAME, "" when it is not set
//	default DEF V            V, or DEF when V is empty: {{env "X" | default "y"}}
//	add A B                  A + B, integers: {{add .Index 1}}
//	shq V                    V quoted for /bin/sh as one word: {{.Self.ip | shq}} (required in shell commands)
//
// The files are rendered before each start (Configure) and again after each configuration of the cluster
// (Configured), even when the process keeps running, so they follow the cluster; a file is rewritten only
// when its content or mode changed, atomically: a temporary file in the same directory gets the content and
// the mode, is synced, and is renamed over the file. The check of each configuration renders everything
// without writing, so a template that fails on the cluster fails the check (the leader retries) rather than
// the start (which would kill the pod).
//
// # Hooks, probe and tools
//
// A hook is argv (a program and its arguments, run as is) or shell (a command line for /bin/sh -c), and a
// timeout (DefaultTimeout when left out) after which it is SIGKILLed with its process group. It runs in cwd
// with the pod's environment, the OCHOPOD_* variables and the spec's env for the cluster (for hooks without a
// cluster: those of the last configuration), and $OCHOPOD_HOOK, its name; OCHOPOD_PODS and OCHOPOD_DEPENDENCIES
// only while each fits one environment string (128 KiB, a few hundred pods: a hook that needs a larger
// cluster reads a file a template rendered). It fails when it exits with a status
// other than 0, or times out; the error carries the last line of its standard error. Every process is started
// through the program's reaper (runtime/proc), which alone waits for children.
//
//	initialize     once before the first start
//	can_configure  the check of a configuration; a failure answers 406 and the leader retries
//	configured     after each configuration of the whole cluster (files rewritten first); a failure answers 500
//	sanity_check   every check_every, with $OCHOPOD_PID; its standard output, if a JSON object, is the
//	               metrics in /info (other output: {"stdout": [lines]}); a failure costs one of checks
//	tear_down      instead of SIGTERM, with $OCHOPOD_PID; SIGKILL after grace anyway unless soft; a failure
//	               falls back to SIGTERM
//	signaled       /control/signal: the request's JSON in $OCHOPOD_SIGNAL ({} without a body; Linux caps one
//	               variable at 128 KiB), $OCHOPOD_PID (0 when no process runs); its standard output, if JSON,
//	               is the reply (other output: {"stdout": [lines]}; none: {}); a failure answers 500
//	finalize       once when the pod dies; a failure is logged
//
// A hook left out behaves as the default of DESIGN §6 (tear_down sends SIGTERM to the process group).
//
// probe is a hook the leader runs every probe_every and after each configuration, with the cluster as the
// leader sees it: its standard output, trimmed, is the cluster's status; a failure reads "* <reason>".
//
// tools are the commands of /exec (DESIGN §8): X-Shell: "<tool> <args>" runs the tool's argv with args
// appended, never through a shell (a ";" is just an argument), with the pod's environment and $OCHOPOD_TOOL.
// The reply's lines are its standard output, then its standard error. args, a list of regular expressions,
// bounds what a caller appends: at most one argument per pattern, each matching it whole (args: [] takes
// none); without it any argument goes, so a tool running a program that reads a file its arguments name
// (tail, cat) would serve any file the pod can read.
//
// # Dry run
//
// `ochopod run --dry-run --spec pod.yaml --pods pods.json` prints the files and the command a configuration
// would give for the cluster in pods.json (the leader's wire form, see DryRun), writing nothing and without
// ZooKeeper.
//
// # A complete example
//
// This is testdata/web.yaml; testdata/web-peers.json.tmpl is its second template, and testdata/web.golden its
// dry run for testdata/pods.json.
//
//	# A web pod: nginx balancing the pods of the cluster it depends on, prod.api.
//	#
//	# Settings have the names of the flags of `ochopod run` (with _ for -). Precedence: a flag given on the
//	# command line, then the environment variable of DESIGN §9 (ochopod_cluster, ochopod_port...), then this
//	# file, then the built-in default. Leave a setting out to keep its default.
//	cluster: web
//	namespace: prod
//	port: 8080                 # the control port
//	# zk: zk1:2181,zk2:2181/ochopod
//	# binding: generic
//	session_timeout: 10s       # durations are written like 10s, 1m30s, 250ms
//	linger: 5s
//	log_level: info
//	log_format: text
//
//	# The cluster model, run by the leader (DESIGN §7).
//	depends_on: [api]          # prod.api; "/staging.api" is absolute; "api-*" a wildcard
//	damper: 5s
//	probe_every: 30s
//	grace: 30s
//	sequential: false
//	full_shutdown: false
//
//	# The lifecycle of the process (DESIGN §6).
//	checks: 3
//	check_every: 20s
//	check_start: 30s           # the first check that long after a start (default one check_every; 0: at once)
//	soft: false
//	strict: false
//	pipe: true
//	start: true
//	cwd: /srv/web              # the process's, the hooks' and the tools' working directory
//
//	# The process: a list of arguments, each a template, or one string run by /bin/sh -c.
//	# `ochopod run --spec web.yaml -- other command` replaces it.
//	command: [nginx, -c, /srv/web/nginx.conf, -g, "daemon off;"]
//
//	# Added to the process's environment, after $ochopod and OCHOPOD_*; each value is a template.
//	env:
//	  WEB_INDEX: "{{.Index}}"
//	  WEB_ID: "{{add .Seq 1}}"
//	  API_BACKENDS: '{{grep "api" 8000}}'
//	  LOG_DIR: '{{env "LOG_DIR" | default "/var/log/web"}}'
//
//	# Files rendered from the cluster before each start and after each configuration, written atomically
//	# (temporary file, mode, fsync, rename) when their content changed.
//	templates:
//	  - path: /srv/web/nginx.conf
//	    mode: "0644"           # octal; 0644 when left out
//	    content: |
//	      # pod {{.Index}} of {{.Size}} in {{.Self.namespace}}.{{.Self.cluster}}, key {{.Key}}
//	      events {}
//	      http {
//	        upstream api {
//	      {{- range index .Dependencies "api"}}
//	          server {{.Payload.ip}}:{{port . 8000}};
//	      {{- else}}
//	          server 127.0.0.1:9;  # no api pod yet
//	      {{- end}}
//	        }
//	        server {
//	          listen 80;
//	          location / { proxy_pass http://api; }
//	        }
//	      }
//	  - path: html/peers.json   # relative: under cwd
//	    mode: 0640
//	    source: web-peers.json.tmpl   # relative to this file's directory
//
//	# Callbacks of DESIGN §6, run as processes: argv (run as is) or shell (/bin/sh -c), and a timeout (60s when
//	# left out; the hook is then killed with SIGKILL). Each gets the pod's environment, the OCHOPOD_* variables and
//	# the env above for the cluster (of the last configuration for those without one), and $OCHOPOD_HOOK.
//	hooks:
//	  initialize:              # once, before the first start
//	    argv: [mkdir, -p, /var/log/web]
//	  can_configure:           # may the cluster configure? a failure answers 406 and the leader retries
//	    shell: test -x /usr/sbin/nginx
//	    timeout: 5s
//	  configured:              # after every configuration of the whole cluster, files rewritten
//	    shell: nginx -s reload 2>/dev/null || true
//	    timeout: 10s
//	  sanity_check:            # every check_every; $OCHOPOD_PID; stdout, if a JSON object, is the metrics
//	    shell: 'curl -fsS http://127.0.0.1/status.json'
//	    timeout: 5s
//	  tear_down:               # instead of SIGTERM; SIGKILL after grace anyway unless soft
//	    argv: [nginx, -s, quit]
//	    timeout: 30s
//	  signaled:                # /control/signal: the request's JSON in $OCHOPOD_SIGNAL; stdout, if JSON, the reply
//	    shell: 'echo "{\"received\": $OCHOPOD_SIGNAL}"'
//	  finalize:                # once, when the pod dies
//	    argv: [rm, -f, /srv/web/nginx.conf]
//
//	# Run by the leader every probe_every and after each configuration: stdout is the cluster's status in /info.
//	probe:
//	  shell: 'curl -fsS -o /dev/null -w "%{http_code}" http://127.0.0.1/'
//	  timeout: 5s
//
//	# /exec tools: the caller's arguments are appended to argv, never through a shell; the reply holds the
//	# lines of stdout, then those of stderr. Callers are untrusted: args says what they may append.
//	tools:
//	  reload:
//	    argv: [nginx, -s, reload]
//	    description: reload nginx's configuration
//	  log:                     # the caller picks how many lines, never which file: X-Shell: log 100
//	    argv: [sh, -c, 'exec tail -n "$1" /var/log/web/access.log', log]
//	    args: ['[0-9]{1,4}']      # a regular expression per argument a caller may append; [] takes none
//	    timeout: 5s
//	    description: the last lines of the access log
package spec
