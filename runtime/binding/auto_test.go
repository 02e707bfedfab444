package binding

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func fixtureAuto() Auto {
	return Auto{
		Generic:    Generic{Interfaces: interfaces("10.1.2.3"), Hostname: hostname("box")},
		Marathon:   Marathon{Root: fstest.MapFS{mesosZKFile: {Data: []byte("zk://10.0.0.1:2181/mesos\n")}}, LookupIPv4: noDNS},
		Kubernetes: Kubernetes{Interfaces: interfaces("10.244.0.9"), Hostname: hostname("pod-x")},
	}
}

func TestAuto_DetectsInOrder(t *testing.T) {
	k8s := Env{"KUBERNETES_SERVICE_HOST": "10.96.0.1"}
	mar := Env{"MARATHON_APP_ID": "/web", "MESOS_TASK_ID": "web.1", "HOST": "10.0.0.5", "PORT_8080": "31000"}
	merge := func(envs ...Env) Env {
		out := Env{}
		for _, e := range envs {
			for k, v := range e {
				out[k] = v
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		env   Env
		want  string
		fails bool // detected, but the environment lacks what the binding needs
	}{
		{"nothing", Env{"PATH": "/bin"}, "generic", false},
		{"ochopod_local=true", Env{"ochopod_local": "true"}, "local", false},
		{"ochopod_local=false is no wish", Env{"ochopod_local": "false"}, "generic", false},
		{"local beats Kubernetes and Marathon", merge(k8s, mar, Env{"ochopod_local": "true"}), "local", false},
		{"Kubernetes", k8s, "kubernetes", false},
		{"Kubernetes beats Marathon", merge(k8s, mar), "kubernetes", false},
		{"an empty KUBERNETES_SERVICE_HOST is no Kubernetes", Env{"KUBERNETES_SERVICE_HOST": ""}, "generic", false},
		{"Marathon", mar, "marathon", false},
		{"MARATHON_APP_ID alone", Env{"MARATHON_APP_ID": "/web"}, "marathon", true},
		{"MESOS_TASK_ID alone", Env{"MESOS_TASK_ID": "web.1"}, "marathon", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := fixtureAuto()
			b, why := a.Detect(tc.env)
			if b.Name() != tc.want || why == "" {
				t.Fatalf("detected %s (%s), want %s", b.Name(), why, tc.want)
			}
			loc, err := a.Resolve(tc.env, 8080)
			switch {
			case tc.fails:
				if err == nil {
					t.Fatalf("resolved %+v", loc)
				}
			case err != nil:
				t.Fatal(err)
			case loc.Binding != tc.want:
				t.Fatalf("resolved by %q, want %q", loc.Binding, tc.want)
			}
		})
	}
}

func TestAuto_ErrorsSayWhatWasPickedAndWhy(t *testing.T) {
	_, err := fixtureAuto().Resolve(Env{"MESOS_TASK_ID": "web.1", "PORT_8080": "31000"}, 8080)
	if err == nil || !strings.Contains(err.Error(), "picked marathon (MESOS_TASK_ID is set)") || !strings.Contains(err.Error(), "HOST") {
		t.Fatalf("%v", err)
	}
	a := fixtureAuto()
	a.Marathon.Root = fstest.MapFS{}
	loc, err := a.Resolve(Env{"MARATHON_APP_ID": "/web", "HOST": "10.0.0.5", "PORT_8080": "31000"}, 8080)
	if !errors.Is(err, ErrNoZooKeeper) || loc.Binding != "marathon" || loc.IP != "10.0.0.5" {
		t.Fatalf("ErrNoZooKeeper or the location lost on the way: %+v, %v", loc, err)
	}
}

func TestAuto_ResolvesMarathonWithTheAgentsZooKeeper(t *testing.T) {
	loc, err := fixtureAuto().Resolve(Env{"MARATHON_APP_ID": "/web", "MESOS_TASK_ID": "web.1", "HOST": "10.0.0.5", "PORT_8080": "31000"}, 8080)
	if err != nil {
		t.Fatal(err)
	}
	if loc.Binding != "marathon" || loc.ZK != "10.0.0.1:2181" || loc.Application != "web" || loc.Ports["8080"] != 31000 {
		t.Fatalf("%+v", loc)
	}
}
