// Package binding finds out where a pod runs (DESIGN §9): its IP addresses, node, port mapping, and where
// ZooKeeper is, from the environment of one kind of deployment. Each binding reads an Env, and whatever else it
// needs from the machine (interfaces, files, DNS) through fields that tests replace with fixtures.
//
// The bindings share a few rules so that they behave alike wherever the pod runs:
//   - PORT_<container port>=<host port> maps ports; a PORT_ value that is not a port number is an error.
//   - ochopod_ip, ochopod_public and ochopod_node, when set, win over what a binding discovers (except local,
//     which is 127.0.0.1 by definition): they are the escape hatch when discovery is wrong.
//   - ZK is what the binding knows of ZooKeeper, "" when it has no way to know. The command line gives --zk
//     (or ochopod_zk, its fallback) precedence over it.
package binding

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
)

// ErrNoZooKeeper is returned, wrapped, by a binding that searches for ZooKeeper (Marathon) and finds it nowhere.
// The Location returned with it is otherwise complete, so a caller that knows ZooKeeper from elsewhere (--zk)
// can go on with it.
var ErrNoZooKeeper = errors.New("no ZooKeeper found")

// Env is the process environment as a map.
type Env map[string]string

// FromEnviron reads KEY=VALUE pairs, as os.Environ gives them.
func FromEnviron(kv []string) Env {
	env := Env{}
	for _, s := range kv {
		if k, v, ok := strings.Cut(s, "="); ok {
			env[k] = v
		}
	}
	return env
}

// Location is what a binding found.
type Location struct {
	Binding     string // the concrete binding that resolved it (never "auto")
	IP          string // where peers reach the pod
	Public      string // where tools outside the cluster reach it
	Node        string // the machine (or agent) running it
	Application string
	Task        string
	ZK          string           // ZooKeeper connection string, "" if the binding does not know
	Ports       map[string]int64 // container port -> host port
}

// Binding resolves the pod's location.
type Binding interface {
	Name() string
	// Resolve reads env; controlPort is the pod's control port as the container sees it.
	Resolve(env Env, controlPort int) (Location, error)
}

// Names lists the bindings Lookup knows, "auto" first since it is the default.
func Names() []string { return []string{"auto", "local", "generic", "marathon", "kubernetes"} }

// Lookup returns the binding of that name, wired to this machine (its interfaces, host name, file system and
// DNS resolver).
func Lookup(name string) (Binding, error) {
	switch name {
	case "auto":
		return System(), nil
	case "local":
		return Local{}, nil
	case "generic":
		return System().Generic, nil
	case "marathon":
		return System().Marathon, nil
	case "kubernetes":
		return System().Kubernetes, nil
	}
	return nil, fmt.Errorf("unknown binding %q (known: %s)", name, strings.Join(Names(), ", "))
}

// System is the auto binding wired to this machine; each concrete binding it holds is wired the same way.
func System() Auto {
	return Auto{
		Generic:    Generic{Interfaces: net.InterfaceAddrs, Hostname: os.Hostname},
		Marathon:   Marathon{Root: os.DirFS("/"), LookupIPv4: lookupIPv4},
		Kubernetes: Kubernetes{Interfaces: net.InterfaceAddrs, Hostname: os.Hostname},
	}
}

// ports reads PORT_<container port>=<host port> variables.
func ports(env Env) (map[string]int64, error) {
	out := map[string]int64{}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "PORT_") {
			continue
		}
		cport := strings.TrimPrefix(k, "PORT_")
		if n, err := strconv.Atoi(cport); err != nil || n <= 0 || n > 65535 {
			continue // PORT_ variables of other meanings (Marathon's PORT_<name>) are not ours
		}
		h, err := strconv.ParseInt(env[k], 10, 32)
		if err != nil || h <= 0 || h > 65535 {
			return nil, fmt.Errorf("%s=%q is not a port number", k, env[k])
		}
		out[cport] = h
	}
	return out, nil
}

// portsWithControl reads the PORT_ variables and maps the control port to itself unless one of them maps it:
// right wherever the container shares the address peers use (host networking, a pod IP, one host).
func portsWithControl(env Env, controlPort int) (map[string]int64, error) {
	p, err := ports(env)
	if err != nil {
		return nil, err
	}
	if _, ok := p[strconv.Itoa(controlPort)]; !ok {
		p[strconv.Itoa(controlPort)] = int64(controlPort)
	}
	return p, nil
}

// overrideIP reads ochopod_ip or ochopod_public: "" when unset, an error when set to something else than an IP.
func overrideIP(env Env, key string) (string, error) {
	v := strings.TrimSpace(env[key])
	if v != "" && net.ParseIP(v) == nil {
		return "", fmt.Errorf("%s=%q is not an IP address", key, v)
	}
	return v, nil
}

// firstNonEmpty returns the first of vs that is not blank, trimmed.
func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// Local runs every pod on this host (DESIGN §11): IP and public are 127.0.0.1 and the control port maps to
// itself, so several pods share one host with different control ports. ZooKeeper is ochopod_zk, else the
// standalone server a developer runs on 127.0.0.1:2181 (as the original's local mode assumed).
type Local struct{}

// Name is "local".
func (Local) Name() string { return "local" }

// Resolve fills the location of a local pod.
func (Local) Resolve(env Env, controlPort int) (Location, error) {
	p, err := ports(env)
	if err != nil {
		return Location{}, fmt.Errorf("local binding: %w", err)
	}
	p[strconv.Itoa(controlPort)] = int64(controlPort)
	return Location{
		Binding: "local", IP: "127.0.0.1", Public: "127.0.0.1", Node: "local",
		Application: env["ochopod_application"], Task: env["ochopod_task"],
		ZK: firstNonEmpty(env["ochopod_zk"], "127.0.0.1:2181"), Ports: p,
	}, nil
}

// Generic is driven by variables only: ochopod_ip (else the first non-loopback IPv4 of this host),
// ochopod_public (else the IP), ochopod_node (else the host name), ochopod_application, ochopod_task,
// ochopod_zk, PORT_<n>; the control port maps to itself unless PORT_<control port> says otherwise.
type Generic struct {
	Interfaces func() ([]net.Addr, error)
	Hostname   func() (string, error)
}

// Name is "generic".
func (Generic) Name() string { return "generic" }

// Resolve fills the location from variables.
func (g Generic) Resolve(env Env, controlPort int) (Location, error) {
	p, err := portsWithControl(env, controlPort)
	if err != nil {
		return Location{}, fmt.Errorf("generic binding: %w", err)
	}
	ip, err := overrideIP(env, "ochopod_ip")
	if err != nil {
		return Location{}, fmt.Errorf("generic binding: %w", err)
	}
	if ip == "" {
		if ip, err = firstIPv4(g.Interfaces); err != nil {
			return Location{}, fmt.Errorf("generic binding: set ochopod_ip: %w", err)
		}
	}
	public, err := overrideIP(env, "ochopod_public")
	if err != nil {
		return Location{}, fmt.Errorf("generic binding: %w", err)
	}
	node := strings.TrimSpace(env["ochopod_node"])
	if node == "" && g.Hostname != nil {
		node, _ = g.Hostname() // a node name is informative only: none is no reason to fail
	}
	return Location{
		Binding: "generic", IP: ip, Public: firstNonEmpty(public, ip), Node: node,
		Application: env["ochopod_application"], Task: env["ochopod_task"],
		ZK: strings.TrimSpace(env["ochopod_zk"]), Ports: p,
	}, nil
}

func firstIPv4(addrs func() ([]net.Addr, error)) (string, error) {
	if addrs == nil {
		return "", errors.New("no interface lister")
	}
	list, err := addrs()
	if err != nil {
		return "", fmt.Errorf("list interfaces: %w", err)
	}
	for _, a := range list {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String(), nil
		}
	}
	return "", errors.New("no non-loopback IPv4 address")
}

// readFile reads a file of root, refusing a nil root rather than panicking (a binding built by hand may lack one).
func readFile(root fs.FS, name string) ([]byte, error) {
	if root == nil {
		return nil, errors.New("no file system to read")
	}
	return fs.ReadFile(root, name)
}
