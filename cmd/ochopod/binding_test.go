package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ochopod/ochopod/runtime/binding"
)

// settingsFrom parses args as `ochopod run` would, without the environment fallbacks (the env is given to
// validate and locate directly).
func settingsFrom(t *testing.T, args ...string) *runSettings {
	t.Helper()
	s := &runSettings{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	s.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBindingDefaultsToAuto(t *testing.T) {
	if s := settingsFrom(t); s.binding != "auto" {
		t.Fatalf("--binding defaults to %q", s.binding)
	}
}

func TestLocate_BindingFillsZKOnlyWhenTheUserGaveNone(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		env         binding.Env
		wantBinding string
		wantZK      string
		wantErr     string // in the message; the error must be a usage error
	}{
		{name: "ochopod_local=true: local, with the local ZooKeeper", env: binding.Env{"ochopod_local": "true"},
			wantBinding: "local", wantZK: "127.0.0.1:2181"},
		{name: "--zk wins over the local default", args: []string{"--zk", "10.0.0.1:2181"}, env: binding.Env{"ochopod_local": "true"},
			wantBinding: "local", wantZK: "10.0.0.1:2181"},
		{name: "generic with ochopod_zk", env: binding.Env{"ochopod_ip": "10.1.1.1", "ochopod_zk": "zk:2181"},
			wantBinding: "generic", wantZK: "zk:2181"},
		{name: "generic without ZooKeeper", env: binding.Env{"ochopod_ip": "10.1.1.1"},
			wantErr: "give --zk or set ochopod_zk (the generic binding cannot find it)"},
		{name: "kubernetes detected", args: []string{"--port", "9000"},
			env:         binding.Env{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "POD_IP": "10.244.0.5", "ochopod_zk": "zk:2181"},
			wantBinding: "kubernetes", wantZK: "zk:2181"},
		// HOST is an address and --zk is given, so neither DNS nor the Mesos agent's files matter here.
		{name: "marathon: --zk makes up for an agent without ZooKeeper settings", args: []string{"--zk", "10.0.0.9:2181"},
			env:         binding.Env{"MARATHON_APP_ID": "/web", "MESOS_TASK_ID": "web.1", "HOST": "10.0.0.5", "PORT_8080": "31000"},
			wantBinding: "marathon", wantZK: "10.0.0.9:2181"},
		{name: "marathon without HOST", args: []string{"--zk", "10.0.0.9:2181"},
			env: binding.Env{"MARATHON_APP_ID": "/web", "PORT_8080": "31000"}, wantErr: "HOST is not set"},
		{name: "an explicit binding beats detection", args: []string{"--binding", "generic", "--zk", "z:2181"},
			env: binding.Env{"ochopod_local": "true", "ochopod_ip": "10.1.1.1"}, wantBinding: "generic", wantZK: "z:2181"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := settingsFrom(t, tc.args...)
			if err := s.validate(tc.env); err != nil {
				t.Fatalf("validate: %v", err)
			}
			loc, err := s.locate(tc.env)
			if tc.wantErr != "" {
				var ue usageError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &ue) {
					t.Fatalf("error %v, want a usage error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if loc.Binding != tc.wantBinding || s.zk != tc.wantZK {
				t.Fatalf("binding %q zk %q, want %q %q", loc.Binding, s.zk, tc.wantBinding, tc.wantZK)
			}
		})
	}
}

func TestValidate_UnknownBindingIsAUsageError(t *testing.T) {
	s := settingsFrom(t, "--binding", "mars")
	var ue usageError
	if err := s.validate(binding.Env{}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "kubernetes") {
		t.Fatalf("%v", err)
	}
}
