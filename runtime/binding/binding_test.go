package binding

import (
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
)

// interfaces is a fake interface lister holding ips (CIDR-less), loopback included if given.
func interfaces(ips ...string) func() ([]net.Addr, error) {
	return func() ([]net.Addr, error) {
		out := make([]net.Addr, 0, len(ips))
		for _, ip := range ips {
			out = append(out, &net.IPNet{IP: net.ParseIP(ip)})
		}
		return out, nil
	}
}

func hostname(name string) func() (string, error) { return func() (string, error) { return name, nil } }

func TestLocal_MapsTheControlPortToItself(t *testing.T) {
	loc, err := Local{}.Resolve(Env{"PORT_9000": "31000", "PORT_WEIRD": "x"}, 8081)
	if err != nil {
		t.Fatal(err)
	}
	want := Location{Binding: "local", IP: "127.0.0.1", Public: "127.0.0.1", Node: "local", ZK: "127.0.0.1:2181",
		Ports: map[string]int64{"8081": 8081, "9000": 31000}}
	if !reflect.DeepEqual(loc, want) {
		t.Fatalf("got %+v\nwant %+v", loc, want)
	}
	loc, err = Local{}.Resolve(Env{"ochopod_zk": "127.0.0.1:2182/dev", "PORT_8081": "9999"}, 8081)
	if err != nil {
		t.Fatal(err)
	}
	if loc.ZK != "127.0.0.1:2182/dev" || loc.Ports["8081"] != 8081 {
		t.Fatalf("ochopod_zk ignored or the control port remapped: %+v", loc)
	}
}

func TestPorts_BadHostPortIsAnError(t *testing.T) {
	for _, v := range []string{"nope", "0", "65536", "-1", ""} {
		if _, err := (Local{}).Resolve(Env{"PORT_8080": v}, 8080); err == nil || !strings.Contains(err.Error(), "PORT_8080") {
			t.Errorf("PORT_8080=%q: %v", v, err)
		}
	}
}

func TestGeneric_FromVariablesAndInterfaces(t *testing.T) {
	g := Generic{Interfaces: interfaces("127.0.0.1", "::1", "10.1.2.3"), Hostname: hostname("host-a")}
	loc, err := g.Resolve(Env{"PORT_8080": "31002"}, 8080)
	if err != nil {
		t.Fatal(err)
	}
	want := Location{Binding: "generic", IP: "10.1.2.3", Public: "10.1.2.3", Node: "host-a", Ports: map[string]int64{"8080": 31002}}
	if !reflect.DeepEqual(loc, want) {
		t.Fatalf("got %+v\nwant %+v", loc, want)
	}
	loc, err = g.Resolve(Env{"ochopod_ip": "192.0.2.7", "ochopod_public": "198.51.100.1", "ochopod_node": "n",
		"ochopod_application": "app", "ochopod_task": "t1", "ochopod_zk": "zk-1:2181,zk-2:2181/chroot"}, 8080)
	if err != nil {
		t.Fatal(err)
	}
	want = Location{Binding: "generic", IP: "192.0.2.7", Public: "198.51.100.1", Node: "n", Application: "app", Task: "t1",
		ZK: "zk-1:2181,zk-2:2181/chroot", Ports: map[string]int64{"8080": 8080}}
	if !reflect.DeepEqual(loc, want) {
		t.Fatalf("got %+v\nwant %+v", loc, want)
	}
	for _, env := range []Env{{"ochopod_ip": "not-an-ip"}, {"ochopod_public": "nope"}, {"PORT_8080": "x"}} {
		if _, err := g.Resolve(env, 8080); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
	if _, err := (Generic{Interfaces: interfaces("127.0.0.1")}).Resolve(Env{}, 8080); err == nil || !strings.Contains(err.Error(), "ochopod_ip") {
		t.Fatalf("no address and no advice: %v", err)
	}
}

func TestLookup_KnowsEveryNameAndNothingElse(t *testing.T) {
	for _, name := range Names() {
		b, err := Lookup(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b.Name() != name {
			t.Fatalf("Lookup(%q) is %q", name, b.Name())
		}
	}
	if _, err := Lookup("mesos-ish"); err == nil || !strings.Contains(err.Error(), "kubernetes") {
		t.Fatalf("unknown binding: %v", err)
	}
}

func TestFromEnviron(t *testing.T) {
	env := FromEnviron([]string{"A=1", "B=x=y", "C=", "junk"})
	if !reflect.DeepEqual(env, Env{"A": "1", "B": "x=y", "C": ""}) {
		t.Fatalf("%v", env)
	}
}

func TestErrNoZooKeeper_IsASentinel(t *testing.T) {
	if !errors.Is(errors.Join(errors.New("x"), ErrNoZooKeeper), ErrNoZooKeeper) {
		t.Fatal("not matchable")
	}
}
