// Package farm runs many pods in one Go process through the library (runtime/pod), each with its own
// ZooKeeper session and its own control port on 127.0.0.1, so that clusters of hundreds or thousands of pods
// can be measured on one small machine, where one `ochopod run` process per pod cannot go (issue #18). Every
// pod is a whole pod: session, leader lock contender, model when it leads, lifecycle and control API; only
// its process is a fake (testkit/fakeproc), started at its first configuration and left running.
//
// The farm counts the control requests that carry a cluster (check, on, ok) its pods receive, their bytes,
// and how many were delta bodies (DESIGN §7).
package farm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/pod"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/fakeproc"
)

// Config is what every pod of a farm shares.
type Config struct {
	ZK                 string // host:port[,...][/chroot]
	Namespace, Cluster string
	SessionTimeout     time.Duration // 10 s when 0
	// WholeBodies registers the pods without "protocol": 2: leaders send them the whole cluster every time.
	WholeBodies bool
	// Observe makes each pod parse the cluster of every ok (sdk.Configurer) and remember its keys: what a
	// callback sees. It costs what parsing costs; benchmarks leave it off.
	Observe bool
	Logger  *slog.Logger // nil: discard
}

// Traffic is what the farm's pods received so far: control requests carrying a cluster, and their bytes.
type Traffic struct {
	Requests, Bytes int64
	Deltas          int64 // requests whose body was a delta
}

// Farm is a set of pods in this process. Safe for concurrent use.
type Farm struct {
	cfg     Config
	ens     zk.Ensemble
	spawner *fakeproc.Spawner

	requests, bytes, deltas atomic.Int64

	mu   sync.Mutex
	pods map[string]*Member
}

// Member is one pod of the farm.
type Member struct {
	Key  string
	Port int
	Pod  *pod.Pod
	srv  *http.Server
	seen *observer

	wholes, deltas atomic.Int64
	firstDelta     atomic.Int32 // the first cluster-carrying request: 0 none yet, 1 whole, 2 a delta
}

// Forms counts the cluster-carrying requests this pod received whole and as deltas, and tells whether the
// first of them was a delta.
func (m *Member) Forms() (whole, deltas int64, firstDelta bool) {
	return m.wholes.Load(), m.deltas.Load(), m.firstDelta.Load() == 2
}

// Seen lists the clusters the pod's ok callbacks saw, oldest first, each as its keys in order
// (Config.Observe).
func (m *Member) Seen() [][]string {
	if m.seen == nil {
		return nil
	}
	return m.seen.clusters()
}

// New returns an empty farm. It makes the actor systems of this process light (pod.LightRegistry: ~3 MB less
// each), so call it before any other pod starts in the process.
func New(cfg Config) (*Farm, error) {
	pod.LightRegistry()
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ens, err := zk.ParseEnsemble(cfg.ZK)
	if err != nil {
		return nil, fmt.Errorf("farm: %w", err)
	}
	return &Farm{cfg: cfg, ens: ens, spawner: fakeproc.New(), pods: map[string]*Member{}}, nil
}

// Traffic is what the pods received so far.
func (f *Farm) Traffic() Traffic {
	return Traffic{Requests: f.requests.Load(), Bytes: f.bytes.Load(), Deltas: f.deltas.Load()}
}

// Start starts one more pod: its control port first, then the pod, which registers in the background.
func (f *Farm) Start() (*Member, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("farm: listen: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	m := &Member{Key: uuid.NewString(), Port: port}
	var lc sdk.Lifecycle = blind{}
	if f.cfg.Observe {
		m.seen = &observer{}
		lc = m.seen
	}
	p, err := pod.Start(pod.Config{
		Key: m.Key, Cluster: zk.ClusterOf(f.cfg.Namespace, f.cfg.Cluster), Ensemble: f.ens, SessionTimeout: f.cfg.SessionTimeout,
		Payload: payload.Payload{"cluster": f.cfg.Cluster, "namespace": f.cfg.Namespace, "ip": "127.0.0.1", "public": "127.0.0.1",
			"port": "8080", "ports": map[string]any{"8080": int64(port)}, "binding": "local", "node": "local"},
		Dialer: gozk.New(f.cfg.Logger), Clock: clock.Real{}, Logger: f.cfg.Logger,
		Model:     &pod.ModelConfig{},
		Lifecycle: &pod.LifecycleConfig{Lifecycle: lc, Spawner: f.spawner, WholeBodies: f.cfg.WholeBodies},
	})
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("farm: %w", err)
	}
	m.Pod = p
	m.srv = &http.Server{Handler: f.count(m, control.Handler(p, nil, control.Settings{}, f.cfg.Logger)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.srv.Serve(ln) }()
	f.mu.Lock()
	f.pods[m.Key] = m
	f.mu.Unlock()
	return m, nil
}

// Stop stops one pod as SIGTERM does (its node goes at once), then its control port.
func (f *Farm) Stop(ctx context.Context, m *Member) error {
	f.mu.Lock()
	delete(f.pods, m.Key)
	f.mu.Unlock()
	err := m.Pod.Stop(ctx)
	if cerr := m.srv.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close stops every pod, several at a time.
func (f *Farm) Close(ctx context.Context) error {
	f.mu.Lock()
	pods := make([]*Member, 0, len(f.pods))
	for _, m := range f.pods {
		pods = append(pods, m)
	}
	f.mu.Unlock()
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, m := range pods {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := f.Stop(ctx, m); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// count wraps a pod's control API: it counts the requests that carry a cluster and their bytes, and tells
// a delta (its body opens with "base", as runtime/delta writes it) from a whole cluster.
func (f *Farm) count(m *Member, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		task := strings.Split(strings.TrimPrefix(r.URL.Path, "/control/"), "/")[0]
		if !strings.HasPrefix(r.URL.Path, "/control/") || (task != "check" && task != "on" && task != "ok") {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.requests.Add(1)
		f.bytes.Add(int64(len(body)))
		if bytes.HasPrefix(body, []byte(`{"base":`)) {
			f.deltas.Add(1)
			m.deltas.Add(1)
			m.firstDelta.CompareAndSwap(0, 2)
		} else {
			m.wholes.Add(1)
			m.firstDelta.CompareAndSwap(0, 1)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		h.ServeHTTP(w, r)
	})
}

// blind is the bench's lifecycle: a command, the cluster unread (sdk.ClusterBlind), as `ochopod run -- cmd`.
type blind struct{}

func (blind) IgnoresCluster() {}
func (blind) Configure(context.Context, *sdk.Cluster) (sdk.Command, error) {
	return sdk.Command{Argv: []string{"farm-process"}}, nil
}

// observer is the tests' lifecycle: it remembers the keys of each cluster its ok callback saw.
type observer struct {
	mu   sync.Mutex
	seen [][]string
}

func (o *observer) Configure(context.Context, *sdk.Cluster) (sdk.Command, error) {
	return sdk.Command{Argv: []string{"farm-process"}}, nil
}

func (o *observer) Configured(_ context.Context, c *sdk.Cluster) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	keys := make([]string, len(c.Pods))
	for i, p := range c.Pods {
		keys[i] = p.Key
	}
	o.seen = append(o.seen, keys)
	return nil
}

func (o *observer) clusters() [][]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([][]string(nil), o.seen...)
}
