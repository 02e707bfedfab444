package binding

import (
	"fmt"
	"net"
	"strings"
)

// Kubernetes is a pod run in a Kubernetes pod. Kubernetes tells a container little by itself, so the pod spec
// exposes what the binding reads through the downward API:
//
//	env:
//	- {name: POD_IP,        valueFrom: {fieldRef: {fieldPath: status.podIP}}}
//	- {name: HOST_IP,       valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
//	- {name: NODE_NAME,     valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
//	- {name: POD_NAME,      valueFrom: {fieldRef: {fieldPath: metadata.name}}}
//	- {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
//
// IP is ochopod_ip, else POD_IP, else the first non-loopback IPv4 of the container's interfaces: every
// container of a pod shares the pod's network namespace, so that address is the pod IP (the node's with
// hostNetwork, which is then the pod IP too), and a missing POD_IP costs nothing. Public is ochopod_public, else
// HOST_IP (reachable from outside the cluster through a hostPort), else the IP. Node is ochopod_node, else
// NODE_NAME, else "". Task is POD_NAME, else ochopod_task, else the host name (a pod's host name is its name).
// Application is ochopod_application, else POD_NAMESPACE: the downward API cannot name the workload that owns
// the pod, so the user names it; failing that, application and task still address the pod in the API
// (kubectl -n <application> delete pod <task>), as Marathon's application and task ids did.
//
// Peers reach the pod IP directly, so every container port maps to itself: the control port maps to itself
// unless a PORT_<n> variable says otherwise. ZooKeeper is ochopod_zk only: nothing in a pod says where it is.
type Kubernetes struct {
	Interfaces func() ([]net.Addr, error)
	Hostname   func() (string, error)
}

// Name is "kubernetes".
func (Kubernetes) Name() string { return "kubernetes" }

// Resolve fills the location from downward-API variables.
func (k Kubernetes) Resolve(env Env, controlPort int) (Location, error) {
	p, err := portsWithControl(env, controlPort)
	if err != nil {
		return Location{}, fmt.Errorf("kubernetes binding: %w", err)
	}
	ip, err := overrideIP(env, "ochopod_ip")
	if err != nil {
		return Location{}, fmt.Errorf("kubernetes binding: %w", err)
	}
	if ip == "" {
		if ip = strings.TrimSpace(env["POD_IP"]); ip != "" && net.ParseIP(ip) == nil {
			return Location{}, fmt.Errorf("kubernetes binding: POD_IP=%q is not an IP address", ip)
		}
	}
	if ip == "" {
		if ip, err = firstIPv4(k.Interfaces); err != nil {
			return Location{}, fmt.Errorf("kubernetes binding: expose status.podIP as POD_IP or set ochopod_ip: %w", err)
		}
	}
	public, err := overrideIP(env, "ochopod_public")
	if err != nil {
		return Location{}, fmt.Errorf("kubernetes binding: %w", err)
	}
	if public == "" {
		if public = strings.TrimSpace(env["HOST_IP"]); public != "" && net.ParseIP(public) == nil {
			return Location{}, fmt.Errorf("kubernetes binding: HOST_IP=%q is not an IP address", public)
		}
	}
	task := firstNonEmpty(env["POD_NAME"], env["ochopod_task"])
	if task == "" && k.Hostname != nil {
		task, _ = k.Hostname() // informative only: none is no reason to fail
	}
	return Location{
		Binding: "kubernetes", IP: ip, Public: firstNonEmpty(public, ip),
		Node:        firstNonEmpty(env["ochopod_node"], env["NODE_NAME"]),
		Application: firstNonEmpty(env["ochopod_application"], env["POD_NAMESPACE"]),
		Task:        task, ZK: strings.TrimSpace(env["ochopod_zk"]), Ports: p,
	}, nil
}
