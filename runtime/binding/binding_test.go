package binding

import (
	"net"
	"testing"
)

func TestLocal_MapsTheControlPortToItself(t *testing.T) {
	loc, err := Local{}.Resolve(Env{"PORT_9000": "31000", "PORT_WEIRD": "x"}, 8081)
	if err != nil {
		t.Fatal(err)
	}
	if loc.IP != "127.0.0.1" || loc.Public != "127.0.0.1" || loc.Ports["8081"] != 8081 || loc.Ports["9000"] != 31000 {
		t.Fatalf("%+v", loc)
	}
}

func TestPorts_BadHostPortIsAnError(t *testing.T) {
	if _, err := (Local{}).Resolve(Env{"PORT_8080": "nope"}, 8080); err == nil {
		t.Fatal("accepted a bad port")
	}
}

func TestGeneric_FromVariablesAndInterfaces(t *testing.T) {
	g := Generic{
		Interfaces: func() ([]net.Addr, error) {
			return []net.Addr{&net.IPNet{IP: net.ParseIP("127.0.0.1")}, &net.IPNet{IP: net.ParseIP("10.1.2.3")}}, nil
		},
		Hostname: func() (string, error) { return "host-a", nil },
	}
	loc, err := g.Resolve(Env{"PORT_8080": "31002"}, 8080)
	if err != nil {
		t.Fatal(err)
	}
	if loc.IP != "10.1.2.3" || loc.Public != "10.1.2.3" || loc.Node != "host-a" || loc.Ports["8080"] != 31002 {
		t.Fatalf("%+v", loc)
	}
	loc, err = g.Resolve(Env{"ochopod_ip": "192.0.2.7", "ochopod_public": "198.51.100.1", "ochopod_node": "n"}, 8080)
	if err != nil {
		t.Fatal(err)
	}
	if loc.IP != "192.0.2.7" || loc.Public != "198.51.100.1" || loc.Node != "n" {
		t.Fatalf("%+v", loc)
	}
	if _, err := g.Resolve(Env{"ochopod_ip": "not-an-ip"}, 8080); err == nil {
		t.Fatal("accepted a bad ip")
	}
}

func TestLookup_UnknownBinding(t *testing.T) {
	if _, err := Lookup("mesos-ish"); err == nil {
		t.Fatal("unknown binding accepted")
	}
}
