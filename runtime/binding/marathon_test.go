package binding

import (
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// resolver is a fake DNS: names map to their addresses; any other name fails with errNXDomain.
func resolver(names map[string][]string) func(string) ([]net.IP, error) {
	return func(host string) ([]net.IP, error) {
		addrs, ok := names[host]
		if !ok {
			return nil, errNXDomain
		}
		out := make([]net.IP, 0, len(addrs))
		for _, a := range addrs {
			out = append(out, net.ParseIP(a))
		}
		return out, nil
	}
}

var errNXDomain = errors.New("no such host") //nolint:gochecknoglobals // immutable test sentinel

func noDNS(host string) ([]net.IP, error) {
	return nil, errors.New("DNS must not be asked about " + host)
}

// marathonEnv is what Marathon sets for a bridged task of /group/web with 8080 and 9000 mapped.
func marathonEnv(extra Env) Env {
	env := Env{
		"MARATHON_APP_ID": "/group/web", "MESOS_TASK_ID": "group_web.1b2c", "HOST": "agent-1.example",
		"PORT_8080": "31002", "PORT_9000": "31003", "PORT0": "31002", "PORT_HTTP": "31002", "PORTS": "31002,31003",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func TestMarathon_Resolves(t *testing.T) {
	dns := resolver(map[string][]string{"agent-1.example": {"2001:db8::5", "10.0.0.5"}})
	ports := map[string]int64{"8080": 31002, "9000": 31003}
	base := Location{Binding: "marathon", IP: "10.0.0.5", Public: "10.0.0.5", Node: "agent-1.example",
		Application: "group/web", Task: "group_web.1b2c", Ports: ports}
	with := func(f func(*Location)) Location { l := base; f(&l); return l }

	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		env   Env
		dns   func(string) ([]net.IP, error)
		want  Location
	}{
		{
			name: "recent DC/OS: mesos-slave-common",
			files: fstest.MapFS{
				dcosAgentCommon: {Data: []byte("MESOS_SLAVE_PARAMS=x\nMESOS_MASTER=zk://zk-1.mesos:2181,zk-2.mesos:2181/mesos\n")},
				dcosAgent:       {Data: []byte("MESOS_MASTER=zk://older:2181/mesos\n")},
				mesosZKFile:     {Data: []byte("zk://package:2181/mesos\n")},
			},
			env: marathonEnv(Env{"ochopod_zk": "mine:2181"}), dns: dns,
			want: with(func(l *Location) { l.ZK = "zk-1.mesos:2181,zk-2.mesos:2181" }),
		},
		{
			name: "older DC/OS: mesos-slave, when mesos-slave-common has no MESOS_MASTER",
			files: fstest.MapFS{
				dcosAgentCommon: {Data: []byte("# MESOS_MASTER is elsewhere\nMESOS_WORK_DIR=/var/lib/mesos\n")},
				dcosAgent:       {Data: []byte("export MESOS_MASTER=\"zk://10.0.0.1:2181/mesos\"\n")},
			},
			env: marathonEnv(nil), dns: dns,
			want: with(func(l *Location) { l.ZK = "10.0.0.1:2181" }),
		},
		{
			name: "package install: /etc/mesos/zk, when MESOS_MASTER is no zk:// URL",
			files: fstest.MapFS{
				dcosAgent:   {Data: []byte("MESOS_MASTER=10.0.0.1:5050\n")},
				mesosZKFile: {Data: []byte("\nzk://10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181/mesos\n")},
			},
			env: marathonEnv(nil), dns: dns,
			want: with(func(l *Location) { l.ZK = "10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181" }),
		},
		{
			name: "ochopod_zk last, chroot kept", files: fstest.MapFS{},
			env: marathonEnv(Env{"ochopod_zk": "zk://10.9.9.9:2181/ochopod"}), dns: dns,
			want: with(func(l *Location) { l.ZK = "10.9.9.9:2181/ochopod" }),
		},
		{
			name: "HOST given as an address: no DNS", files: fstest.MapFS{mesosZKFile: {Data: []byte("zk://z:2181/mesos")}},
			env: marathonEnv(Env{"HOST": "10.0.0.7"}), dns: noDNS,
			want: with(func(l *Location) { l.IP, l.Public, l.Node, l.ZK = "10.0.0.7", "10.0.0.7", "10.0.0.7", "z:2181" }),
		},
		{
			name: "ochopod_ip, ochopod_public and ochopod_node win", files: fstest.MapFS{mesosZKFile: {Data: []byte("zk://z:2181/mesos")}},
			env: marathonEnv(Env{"ochopod_ip": "192.0.2.1", "ochopod_public": "198.51.100.1", "ochopod_node": "n1"}), dns: noDNS,
			want: with(func(l *Location) { l.IP, l.Public, l.Node, l.ZK = "192.0.2.1", "198.51.100.1", "n1", "z:2181" }),
		},
		{
			name:  "a Mesos task without Marathon: application from ochopod_application",
			files: fstest.MapFS{mesosZKFile: {Data: []byte("zk://z:2181/mesos")}},
			env: func() Env {
				e := marathonEnv(Env{"ochopod_application": "mine", "ochopod_task": "ignored"})
				delete(e, "MARATHON_APP_ID")
				return e
			}(), dns: dns,
			want: with(func(l *Location) { l.Application, l.ZK = "mine", "z:2181" }),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := Marathon{Root: tc.files, LookupIPv4: tc.dns}.Resolve(tc.env, 8080)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(loc, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", loc, tc.want)
			}
		})
	}
}

func TestMarathon_Errors(t *testing.T) {
	zkFile := fstest.MapFS{mesosZKFile: {Data: []byte("zk://z:2181/mesos")}}
	dns := resolver(map[string][]string{"agent-1.example": {"10.0.0.5"}, "v6-only": {"2001:db8::1"}})
	without := func(k string) Env { e := marathonEnv(nil); delete(e, k); return e }
	for _, tc := range []struct {
		name string
		env  Env
		want string // in the message
		is   error
	}{
		{name: "no HOST", env: without("HOST"), want: "HOST is not set"},
		{name: "a PORT_ value that is not a number", env: marathonEnv(Env{"PORT_9000": "31003x"}), want: `PORT_9000="31003x" is not a port number`},
		{name: "the control port is not mapped", env: without("PORT_8080"), want: "control port 8080 is not mapped"},
		{name: "HOST does not resolve", env: marathonEnv(Env{"HOST": "ghost"}), want: `resolve HOST="ghost"`, is: errNXDomain},
		{name: "HOST has only IPv6", env: marathonEnv(Env{"HOST": "v6-only"}), want: "no IPv4 address"},
		{name: "HOST is an IPv6 literal", env: marathonEnv(Env{"HOST": "2001:db8::1"}), want: "not an IPv4 address"},
		{name: "bad ochopod_ip", env: marathonEnv(Env{"ochopod_ip": "10.0.0"}), want: "ochopod_ip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Marathon{Root: zkFile, LookupIPv4: dns}.Resolve(tc.env, 8080)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "marathon binding: ") {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("%v does not wrap %v", err, tc.is)
			}
			if errors.Is(err, ErrNoZooKeeper) {
				t.Fatalf("%v is not about ZooKeeper", err)
			}
		})
	}
}

func TestMarathon_NoZooKeeperAnywhereSaysWhereItLooked(t *testing.T) {
	for _, root := range []fstest.MapFS{
		nil,
		{},
		{
			dcosAgentCommon: {Data: []byte("MESOS_WORK_DIR=/var/lib/mesos\n")},
			dcosAgent:       {Data: []byte("MESOS_MASTER=file:///opt/mesosphere/etc/master\n")},
			mesosZKFile:     {Data: []byte("\n\n")},
		},
	} {
		m := Marathon{LookupIPv4: resolver(map[string][]string{"agent-1.example": {"10.0.0.5"}})}
		if root != nil {
			m.Root = root
		}
		loc, err := m.Resolve(marathonEnv(nil), 8080)
		if !errors.Is(err, ErrNoZooKeeper) {
			t.Fatalf("%v is not ErrNoZooKeeper", err)
		}
		for _, place := range []string{"/" + dcosAgentCommon, "/" + dcosAgent, "/" + mesosZKFile, "ochopod_zk"} {
			if !strings.Contains(err.Error(), place) {
				t.Errorf("%q does not mention %s", err, place)
			}
		}
		// Everything but ZooKeeper was found, so that --zk can make up for it.
		if loc.Binding != "marathon" || loc.IP != "10.0.0.5" || loc.Task != "group_web.1b2c" || loc.ZK != "" {
			t.Fatalf("incomplete location with ErrNoZooKeeper: %+v", loc)
		}
	}
}

func TestZKURLHosts(t *testing.T) {
	for in, want := range map[string]string{
		"zk://10.0.0.1:2181,10.0.0.2:2181/mesos":        "10.0.0.1:2181,10.0.0.2:2181",
		"zk://leader.mesos:2181/mesos":                  "leader.mesos:2181",
		"  zk://10.0.0.1:2181  ":                        "10.0.0.1:2181",
		"ZK://10.0.0.1:2181/":                           "10.0.0.1:2181",
		"zk://user:secret@10.0.0.1:2181,10.0.0.2/mesos": "10.0.0.1:2181,10.0.0.2",
		"zk://10.0.0.1:2181/mesos/deeper":               "10.0.0.1:2181",
	} {
		got, err := zkURLHosts(in)
		if err != nil || got != want {
			t.Errorf("zkURLHosts(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10.0.0.1:5050", "10.0.0.1:2181/mesos", "zk:///mesos", "zk://", "file:///etc/mesos/zk", "http://10.0.0.1:2181"} {
		if got, err := zkURLHosts(in); err == nil {
			t.Errorf("zkURLHosts(%q) = %q, want an error", in, got)
		}
	}
}
