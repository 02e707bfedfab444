package binding

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"time"
)

// The files of a Mesos agent that name its ZooKeeper, in the order the original looked at them: recent DC/OS,
// older DC/OS, then a package install. Paths are relative to the root, as fs.FS wants them.
const (
	dcosAgentCommon = "opt/mesosphere/etc/mesos-slave-common"
	dcosAgent       = "opt/mesosphere/etc/mesos-slave"
	mesosZKFile     = "etc/mesos/zk"
)

// Marathon is a pod run as a Marathon application on Mesos (the original's generic Marathon binding).
//
// It reads MARATHON_APP_ID (its leading '/' removed) as the application and MESOS_TASK_ID as the task (else
// ochopod_application and ochopod_task), HOST (the agent, required) as the node, and the IPv4 address HOST
// resolves to as the IP (the original used getent); public is ochopod_public, else the IP. Ports come from
// PORT_<container port>=<host port>, which Marathon sets for the port mappings of a bridged container, and the
// control port must be among them: in bridge mode it is reachable only through a host port Marathon picks, so
// guessing would register an address nobody can reach. ZooKeeper is the Mesos agent's own, read from
// MESOS_MASTER in /opt/mesosphere/etc/mesos-slave-common, then in /opt/mesosphere/etc/mesos-slave, then the
// first line of /etc/mesos/zk, then ochopod_zk.
//
// Differences with the original: the original also tried EC2's metadata service first (not ported), left
// public empty off EC2, went on with an empty IP when getent failed (here an error), and mapped PORT_8080 to
// 8080 when Marathon did not (here an unmapped control port is an error). Its namespace defaulted to
// "marathon"; ours is "default" whatever the binding (DESIGN §9). Its cluster defaulted to "default" too: the
// docstring's claim that it defaulted to the Marathon application id was never implemented.
type Marathon struct {
	Root       fs.FS                               // the machine's file system, rooted at /
	LookupIPv4 func(host string) ([]net.IP, error) // resolves HOST
}

// Name is "marathon".
func (Marathon) Name() string { return "marathon" }

// Resolve fills the location from Marathon's variables and the Mesos agent's settings. When everything but
// ZooKeeper is found it returns the Location with an error wrapping ErrNoZooKeeper.
func (m Marathon) Resolve(env Env, controlPort int) (Location, error) {
	p, err := ports(env)
	if err != nil {
		return Location{}, fmt.Errorf("marathon binding: %w", err)
	}
	if _, ok := p[strconv.Itoa(controlPort)]; !ok {
		return Location{}, fmt.Errorf("marathon binding: the control port %d is not mapped: declare it in the application's port mappings (Marathon then sets PORT_%d) or set PORT_%d=<host port>",
			controlPort, controlPort, controlPort)
	}
	host := strings.TrimSpace(env["HOST"])
	if host == "" {
		return Location{}, errors.New("marathon binding: HOST is not set (Marathon exports the agent's host name as HOST)")
	}
	ip, err := overrideIP(env, "ochopod_ip")
	if err != nil {
		return Location{}, fmt.Errorf("marathon binding: %w", err)
	}
	if ip == "" {
		if ip, err = m.hostIPv4(host); err != nil {
			return Location{}, fmt.Errorf("marathon binding: %w", err)
		}
	}
	public, err := overrideIP(env, "ochopod_public")
	if err != nil {
		return Location{}, fmt.Errorf("marathon binding: %w", err)
	}
	loc := Location{
		Binding: "marathon", IP: ip, Public: firstNonEmpty(public, ip), Node: firstNonEmpty(env["ochopod_node"], host),
		Application: firstNonEmpty(strings.TrimPrefix(strings.TrimSpace(env["MARATHON_APP_ID"]), "/"), env["ochopod_application"]),
		Task:        firstNonEmpty(env["MESOS_TASK_ID"], env["ochopod_task"]),
		Ports:       p,
	}
	if loc.ZK, err = m.zooKeeper(env); err != nil {
		return loc, fmt.Errorf("marathon binding: %w", err)
	}
	return loc, nil
}

// hostIPv4 is the first IPv4 address of host; an address literal is taken as is, without asking DNS.
func (m Marathon) hostIPv4(host string) (string, error) {
	if ip := net.ParseIP(host); ip != nil {
		if ip.To4() == nil {
			return "", fmt.Errorf("HOST=%q is not an IPv4 address", host)
		}
		return ip.String(), nil
	}
	if m.LookupIPv4 == nil {
		return "", fmt.Errorf("cannot resolve HOST=%q: no resolver", host)
	}
	ips, err := m.LookupIPv4(host)
	if err != nil {
		return "", fmt.Errorf("resolve HOST=%q: %w", host, err)
	}
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			return v4.String(), nil
		}
	}
	return "", fmt.Errorf("HOST=%q has no IPv4 address", host)
}

// zooKeeper searches the places the original did, in its order, and says where it looked when it finds nothing.
// A place that is absent, unreadable or holds no zk:// URL is skipped, as the original skipped any failure.
func (m Marathon) zooKeeper(env Env) (string, error) {
	var tried []string
	for _, name := range []string{dcosAgentCommon, dcosAgent} {
		hosts, err := m.fromAgentSettings(name)
		if err == nil {
			return hosts, nil
		}
		tried = append(tried, fmt.Sprintf("/%s: %s", name, describe(err)))
	}
	hosts, err := m.fromZKFile()
	if err == nil {
		return hosts, nil
	}
	tried = append(tried, fmt.Sprintf("/%s: %s", mesosZKFile, describe(err)))
	// ochopod_zk is the user's own setting, not Mesos's: it is taken whole, chroot included, as --zk takes it
	// (DESIGN §11). The original reduced it to the hosts of a zk:// URL like the others.
	if v := strings.TrimSpace(env["ochopod_zk"]); v != "" {
		return strings.TrimPrefix(v, "zk://"), nil
	}
	tried = append(tried, "ochopod_zk: not set")
	return "", fmt.Errorf("%w (looked at %s)", ErrNoZooKeeper, strings.Join(tried, "; "))
}

// fromAgentSettings reads MESOS_MASTER from a DC/OS agent's settings (lines of KEY=VALUE); the original
// grepped for it.
func (m Marathon) fromAgentSettings(name string) (string, error) {
	b, err := readFile(m.Root, name)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "MESOS_MASTER" {
			return zkURLHosts(strings.Trim(strings.TrimSpace(v), `"'`))
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no MESOS_MASTER")
}

// fromZKFile reads the first line of /etc/mesos/zk, where a package install of the agent writes its zk:// URL.
func (m Marathon) fromZKFile() (string, error) {
	b, err := readFile(m.Root, mesosZKFile)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return zkURLHosts(line)
		}
	}
	return "", errors.New("empty")
}

// zkURLHosts reduces a Mesos zk:// URL (zk://[user:password@]host:port[,host:port...]/path) to its hosts, the
// ZooKeeper connection string: zk://10.0.0.1:2181,10.0.0.2:2181/mesos gives 10.0.0.1:2181,10.0.0.2:2181.
//
// The path is dropped on purpose, as the original did (it kept urlparse's netloc): it is Mesos's chroot, and
// Ochopod's tree must not land under Mesos's. The credentials are dropped too: they are Mesos's, and a
// ZooKeeper connection string has no room for them.
func zkURLHosts(url string) (string, error) {
	rest, ok := cutPrefixFold(strings.TrimSpace(url), "zk://")
	if !ok {
		return "", fmt.Errorf("%q is not a zk:// URL", url)
	}
	hosts, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(hosts, '@'); i >= 0 {
		hosts = hosts[i+1:]
	}
	if hosts == "" {
		return "", fmt.Errorf("%q names no host", url)
	}
	return hosts, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// describe shortens the usual reason a place held nothing.
func describe(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "absent"
	}
	return err.Error()
}

// lookupIPv4 asks the system resolver (which reads /etc/hosts too, like getent did) for the IPv4 addresses of
// host, without hanging a pod's start on a dead DNS server.
func lookupIPv4(host string) ([]net.IP, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return net.DefaultResolver.LookupIP(ctx, "ip4", host)
}
