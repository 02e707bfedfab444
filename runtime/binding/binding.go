// Package binding finds out where a pod runs (DESIGN §9): its IP addresses, node, port mapping, and where
// ZooKeeper is, from the environment of one kind of deployment. Each binding reads an Env so that tests use
// fixtures instead of the process environment.
package binding

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
)

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
	Binding     string
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

// Names lists the bindings Lookup knows.
func Names() []string { return []string{"local", "generic"} }

// Lookup returns the binding of that name.
func Lookup(name string) (Binding, error) {
	switch name {
	case "local":
		return Local{}, nil
	case "generic":
		return Generic{Interfaces: net.InterfaceAddrs, Hostname: os.Hostname}, nil
	}
	return nil, fmt.Errorf("unknown binding %q (known: %s)", name, strings.Join(Names(), ", "))
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
			continue // PORT_ variables of other meanings are not ours
		}
		h, err := strconv.ParseInt(env[k], 10, 32)
		if err != nil || h <= 0 || h > 65535 {
			return nil, fmt.Errorf("%s=%q is not a port number", k, env[k])
		}
		out[cport] = h
	}
	return out, nil
}

// Local runs every pod on this host (DESIGN §11): IP and public are 127.0.0.1 and the control port maps to
// itself, so several pods share one host with different control ports.
type Local struct{}

// Name is "local".
func (Local) Name() string { return "local" }

// Resolve fills the location of a local pod.
func (Local) Resolve(env Env, controlPort int) (Location, error) {
	p, err := ports(env)
	if err != nil {
		return Location{}, err
	}
	p[strconv.Itoa(controlPort)] = int64(controlPort)
	return Location{
		Binding: "local", IP: "127.0.0.1", Public: "127.0.0.1", Node: "local",
		Application: env["ochopod_application"], Task: env["ochopod_task"], Ports: p,
	}, nil
}

// Generic is driven by variables only: ochopod_ip (else the first non-loopback IPv4 of this host),
// ochopod_public (else the IP), ochopod_node (else the host name), PORT_<n>; the control port maps to itself
// unless PORT_<control port> says otherwise.
type Generic struct {
	Interfaces func() ([]net.Addr, error)
	Hostname   func() (string, error)
}

// Name is "generic".
func (Generic) Name() string { return "generic" }

// Resolve fills the location from variables.
func (g Generic) Resolve(env Env, controlPort int) (Location, error) {
	p, err := ports(env)
	if err != nil {
		return Location{}, err
	}
	if _, ok := p[strconv.Itoa(controlPort)]; !ok {
		p[strconv.Itoa(controlPort)] = int64(controlPort)
	}
	ip := env["ochopod_ip"]
	if ip == "" {
		if ip, err = firstIPv4(g.Interfaces); err != nil {
			return Location{}, fmt.Errorf("generic binding: set ochopod_ip: %w", err)
		}
	}
	if net.ParseIP(ip) == nil {
		return Location{}, fmt.Errorf("generic binding: ochopod_ip=%q is not an IP address", ip)
	}
	public := env["ochopod_public"]
	if public == "" {
		public = ip
	}
	node := env["ochopod_node"]
	if node == "" && g.Hostname != nil {
		node, _ = g.Hostname()
	}
	return Location{
		Binding: "generic", IP: ip, Public: public, Node: node,
		Application: env["ochopod_application"], Task: env["ochopod_task"], Ports: p,
	}, nil
}

func firstIPv4(addrs func() ([]net.Addr, error)) (string, error) {
	if addrs == nil {
		return "", fmt.Errorf("no interface lister")
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
	return "", fmt.Errorf("no non-loopback IPv4 address")
}
