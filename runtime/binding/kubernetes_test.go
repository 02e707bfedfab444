package binding

import (
	"net"
	"reflect"
	"strings"
	"testing"
)

// downwardAPI is the environment of a container whose spec exposes what Kubernetes documents.
func downwardAPI(extra Env) Env {
	env := Env{
		"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
		"POD_IP": "10.244.1.17", "HOST_IP": "192.168.49.2", "NODE_NAME": "worker-1",
		"POD_NAME": "web-7d9f-abcde", "POD_NAMESPACE": "shop", "ochopod_zk": "zk-0.zk:2181,zk-1.zk:2181",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func TestKubernetes_Resolves(t *testing.T) {
	base := Location{Binding: "kubernetes", IP: "10.244.1.17", Public: "192.168.49.2", Node: "worker-1",
		Application: "shop", Task: "web-7d9f-abcde", ZK: "zk-0.zk:2181,zk-1.zk:2181", Ports: map[string]int64{"8080": 8080}}
	with := func(f func(*Location)) Location { l := base; l.Ports = map[string]int64{"8080": 8080}; f(&l); return l }
	without := func(keys ...string) Env {
		e := downwardAPI(nil)
		for _, k := range keys {
			delete(e, k)
		}
		return e
	}
	for _, tc := range []struct {
		name string
		env  Env
		ifs  func() ([]net.Addr, error)
		want Location
	}{
		{name: "every downward-API variable", env: downwardAPI(nil), want: base},
		{name: "ochopod_application names the workload", env: downwardAPI(Env{"ochopod_application": "web"}),
			want: with(func(l *Location) { l.Application = "web" })},
		{name: "no HOST_IP: public is the pod IP", env: without("HOST_IP"),
			want: with(func(l *Location) { l.Public = "10.244.1.17" })},
		{name: "no POD_IP: the pod's interface", env: without("POD_IP"), ifs: interfaces("127.0.0.1", "10.244.1.99"),
			want: with(func(l *Location) { l.IP = "10.244.1.99" })},
		{name: "overrides win", env: downwardAPI(Env{"ochopod_ip": "10.0.0.1", "ochopod_public": "203.0.113.9", "ochopod_node": "n"}),
			want: with(func(l *Location) { l.IP, l.Public, l.Node = "10.0.0.1", "203.0.113.9", "n" })},
		{name: "PORT_ overrides and extra ports", env: downwardAPI(Env{"PORT_8080": "30080", "PORT_9000": "30090"}),
			want: with(func(l *Location) { l.Ports = map[string]int64{"8080": 30080, "9000": 30090} })},
		{name: "no POD_NAME: ochopod_task", env: func() Env { e := without("POD_NAME"); e["ochopod_task"] = "t"; return e }(),
			want: with(func(l *Location) { l.Task = "t" })},
		{name: "neither: the host name, which is the pod's name", env: without("POD_NAME", "NODE_NAME", "POD_NAMESPACE", "ochopod_zk"),
			want: with(func(l *Location) { l.Task, l.Node, l.Application, l.ZK = "web-7d9f-fghij", "", "", "" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := Kubernetes{Interfaces: tc.ifs, Hostname: hostname("web-7d9f-fghij")}
			if k.Interfaces == nil {
				k.Interfaces = func() ([]net.Addr, error) { t.Fatal("interfaces listed though POD_IP is set"); return nil, nil }
			}
			loc, err := k.Resolve(tc.env, 8080)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(loc, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", loc, tc.want)
			}
		})
	}
}

func TestKubernetes_Errors(t *testing.T) {
	noPodIP := downwardAPI(nil)
	delete(noPodIP, "POD_IP")
	for _, tc := range []struct {
		name string
		env  Env
		ifs  func() ([]net.Addr, error)
		want string
	}{
		{name: "no pod IP anywhere", env: noPodIP, ifs: interfaces("127.0.0.1"), want: "POD_IP"},
		{name: "POD_IP is garbage", env: downwardAPI(Env{"POD_IP": "pending"}), want: `POD_IP="pending"`},
		{name: "HOST_IP is garbage", env: downwardAPI(Env{"HOST_IP": "x"}), want: `HOST_IP="x"`},
		{name: "a PORT_ value that is not a number", env: downwardAPI(Env{"PORT_9000": "many"}), want: "PORT_9000"},
		{name: "bad ochopod_ip", env: downwardAPI(Env{"ochopod_ip": "here"}), want: "ochopod_ip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Kubernetes{Interfaces: tc.ifs}.Resolve(tc.env, 8080)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "kubernetes binding: ") {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}
