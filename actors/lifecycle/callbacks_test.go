package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// full implements every callback and records what it was given.
type full struct{ calls []string }

func (f *full) record(s string) { f.calls = append(f.calls, s) }

func (f *full) Configure(_ context.Context, c *sdk.Cluster) (sdk.Command, error) {
	f.record("configure " + c.Key)
	return sdk.Command{Argv: []string{"app"}, Env: map[string]string{"A": "b"}}, nil
}
func (f *full) Initialize(context.Context) error { f.record("initialize"); return nil }
func (f *full) CanConfigure(_ context.Context, c *sdk.Cluster) error {
	f.record("can_configure " + c.Key)
	return errors.New("not yet")
}
func (f *full) Configured(_ context.Context, c *sdk.Cluster) error {
	f.record("configured " + c.Key)
	return nil
}
func (f *full) SanityCheck(_ context.Context, pid int) (map[string]any, error) {
	f.record("sanity_check")
	return map[string]any{"pid": pid}, nil
}
func (f *full) TearDown(_ context.Context, p sdk.Process) error {
	f.record("tear_down")
	if p.Pid != 7 {
		return errors.New("wrong pid")
	}
	return nil
}
func (f *full) Signaled(_ context.Context, payload json.RawMessage, p sdk.Process) (any, error) {
	f.record("signaled " + string(payload))
	return nil, nil
}
func (f *full) Finalize(context.Context) { f.record("finalize") }

func TestLifecycle_CallbacksReachTheUsersCode(t *testing.T) {
	if got := implements(&full{}); got != every {
		t.Fatalf("implements %+v", got)
	}
	if got := implements(sdk.Exec{}); got != (Implements{IgnoresCluster: true}) {
		t.Fatalf("Exec implements %+v", got)
	}
	c, err := sdk.ParseCluster([]byte(clusterA))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		e    RunCallback
		call string
		want *v1.CallbackDone
		err  string
	}{
		{RunCallback{Name: cbInitialize}, "initialize", &v1.CallbackDone{}, ""},
		{RunCallback{Name: cbCanConfigure, Cluster: c}, "can_configure k1", nil, "not yet"},
		{RunCallback{Name: cbConfigure, Cluster: c}, "configure k1", &v1.CallbackDone{Argv: []string{"app"}, Env: map[string]string{"A": "b"}}, ""},
		{RunCallback{Name: cbConfigured, Cluster: c}, "configured k1", &v1.CallbackDone{}, ""},
		{RunCallback{Name: cbSanityCheck, Pid: 7}, "sanity_check", &v1.CallbackDone{Result: []byte(`{"pid":7}`)}, ""},
		{RunCallback{Name: cbTearDown, Pid: 7}, "tear_down", &v1.CallbackDone{}, ""},
		{RunCallback{Name: cbSignaled, Payload: json.RawMessage(`{"x":1}`)}, `signaled {"x":1}`, &v1.CallbackDone{Result: []byte(`{}`)}, ""},
		{RunCallback{Name: cbFinalize}, "finalize", &v1.CallbackDone{}, ""},
	} {
		f := &full{}
		done := &v1.CallbackDone{}
		err := invoke(context.Background(), f, tc.e, done)
		if len(f.calls) != 1 || f.calls[0] != tc.call {
			t.Fatalf("%s: calls %q, want %q", tc.e.Name, f.calls, tc.call)
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("%s: error %v, want %q", tc.e.Name, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(done.GetArgv(), tc.want.GetArgv()) || !reflect.DeepEqual(done.GetEnv(), tc.want.GetEnv()) || string(done.GetResult()) != string(tc.want.GetResult()) {
			t.Fatalf("%s: %v %v, want %v", tc.e.Name, done, err, tc.want)
		}
	}
}

type panicky struct{}

func (panicky) Configure(context.Context, *sdk.Cluster) (sdk.Command, error) { panic("boom") }

func TestLifecycle_APanickingCallbackIsAnError(t *testing.T) {
	err := guard(func() error {
		return invoke(context.Background(), panicky{}, RunCallback{Name: cbConfigure}, &v1.CallbackDone{})
	}, protocol.Name(cbConfigure), slog.New(slog.DiscardHandler))
	if err == nil || err.Error() != "configure panicked: boom" {
		t.Fatalf("error %v", err)
	}
}

func TestLifecycle_EnvironmentLaterValuesWin(t *testing.T) {
	got := environ([]string{"PATH=/bin", "A=1", "B=1"}, []string{"ochopod={}", "B=2"}, map[string]string{"C": "3", "A": "x=y"})
	want := []string{"PATH=/bin", "A=x=y", "B=2", "ochopod={}", "C=3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("environ %q, want %q", got, want)
	}
}
