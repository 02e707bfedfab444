package original

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
)

// Config is what an original pod is started with.
type Config struct {
	ZK        string // the ensemble, host:port[,host:port...][/chroot]
	Namespace string
	Cluster   string
	DependsOn []string      // as the original's depends_on: "db", "/prod.db", "db-*"
	Grace     time.Duration // each control request's timeout as a leader; 10 s when 0
	Retry     time.Duration // wait before a failed configuration is tried again; 250 ms when 0
	Logger    *slog.Logger  // nil: discard
}

// Request is a control request the pod answered.
type Request struct {
	Task         string
	Key          string
	Pods         map[string]json.RawMessage
	Dependencies map[string]map[string]json.RawMessage
}

// Pod is a running original pod. Its methods are safe for concurrent use.
type Pod struct {
	cfg  Config
	key  string
	cl   zk.Cluster
	conn zk.Conn
	log  *slog.Logger
	ln   net.Listener
	srv  *http.Server

	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	node       string // the pod node
	lock       string // the lock contender
	lockID     string // its id: one per lock object, kept across release and acquire (Kazoo)
	leading    bool
	requests   []Request
	running    bool
	lastDeps   any // the dependencies of the last on, decoded
	starts     int
	restarts   int
	phases     int
	lastHash   string
	violations []string
}

// Start registers the pod, serves its control API on a loopback port and contends for its cluster's lock.
// Stop ends it.
func Start(ctx context.Context, cfg Config) (*Pod, error) {
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pod{cfg: cfg, key: uuid4(), lockID: uuid4Hex(), cl: zk.ClusterOf(cfg.Namespace, cfg.Cluster), done: make(chan struct{})}
	p.log = cfg.Logger.With("original", p.key, "cluster", p.cl.Qualified)
	var err error
	if p.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("original: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /control/", p.control)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(p.ln) }()
	ens, err := zk.ParseEnsemble(cfg.ZK)
	if err != nil {
		_ = p.srv.Close()
		return nil, fmt.Errorf("original: %w", err)
	}
	if p.conn, err = gozk.Connect(ctx, ens, 10*time.Second, p.log); err != nil {
		_ = p.srv.Close()
		return nil, fmt.Errorf("original: %w", err)
	}
	if err := p.register(); err != nil {
		p.conn.Close()
		_ = p.srv.Close()
		return nil, fmt.Errorf("original: %w", err)
	}
	run, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go p.run(run)
	return p, nil
}

// Stop ends the session (its nodes go with it) and the control API, and returns once both are done.
func (p *Pod) Stop() {
	p.cancel()
	p.conn.Close()
	<-p.done
	_ = p.srv.Close()
}

// Key is the pod's key (its node's name before the sequence, the key of its payload in snapshots).
func (p *Pod) Key() string { return p.key }

// register does what the original's core does on connect: ensure pods/ and hash (empty), create the pod node
// with no data, then write its payload with the seq, and take a place in the lock.
func (p *Pod) register() error {
	for _, dir := range []string{p.cl.Pods(), p.cl.Hash(), p.cl.Coordinator()} {
		if err := zk.EnsurePath(p.conn, dir); err != nil {
			return err
		}
	}
	node, err := p.conn.Create(p.cl.PodPrefix(p.key), []byte{}, zk.EphemeralSequential)
	if err != nil {
		return fmt.Errorf("create the pod node: %w", err)
	}
	_, seq, ok := zk.ParseSequential(path.Base(node))
	if !ok {
		return fmt.Errorf("pod node %s has no sequence", node)
	}
	port := strconv.Itoa(p.ln.Addr().(*net.TCPAddr).Port)
	payload, err := json.Marshal(map[string]any{
		"cluster": p.cfg.Cluster, "namespace": p.cfg.Namespace, "binding": "local", "ip": "127.0.0.1",
		"public": "127.0.0.1", "node": "local", "port": port, "ports": map[string]int{port: p.ln.Addr().(*net.TCPAddr).Port},
		"seq": seq, "status": "", "zk": p.cfg.ZK, "debug": "false", "local": "true",
	})
	if err != nil {
		return err
	}
	if _, err := p.conn.Set(node, payload, zk.AnyVersion); err != nil {
		return fmt.Errorf("write the payload: %w", err)
	}
	lock, err := p.conn.Create(path.Join(p.cl.Coordinator(), p.lockID+zk.LockMarker), []byte{}, zk.EphemeralSequential)
	if err != nil {
		return fmt.Errorf("create the lock contender: %w", err)
	}
	p.mu.Lock()
	p.node, p.lock = node, lock
	p.mu.Unlock()
	return nil
}

// StepDown gives the lock up and contends again at the back of the line, as Kazoo's release and acquire do;
// the pod stays registered.
func (p *Pod) StepDown() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.conn.Delete(p.lock, zk.AnyVersion); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	lock, err := p.conn.Create(path.Join(p.cl.Coordinator(), p.lockID+zk.LockMarker), []byte{}, zk.EphemeralSequential)
	if err != nil {
		return err
	}
	p.lock = lock
	return nil
}

// Leading tells whether the pod holds its cluster's lock and runs its model.
func (p *Pod) Leading() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.leading }

// Requests lists the control requests answered so far, oldest first.
func (p *Pod) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Starts counts the ons that started the pod's (imaginary) process; Restarts those that tore it down first
// because the dependencies changed since the last on, as the original's piped model does.
func (p *Pod) Starts() (starts, restarts int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts, p.restarts
}

// Phases counts the configuration phases this pod completed as leader; LastHash is the hash it wrote last.
func (p *Pod) Phases() (n int, lastHash string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phases, p.lastHash
}

// Violations lists what the pod read that an original pod fails on.
func (p *Pod) Violations() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.violations...)
}

func (p *Pod) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.log.Warn("an original pod would fail here", "what", msg)
	p.mu.Lock()
	p.violations = append(p.violations, msg)
	p.mu.Unlock()
}

// control answers the original's piped model's requests.
func (p *Pod) control(w http.ResponseWriter, r *http.Request) {
	task, _, _ := cutFirst(r.URL.Path[len("/control/"):])
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := Request{Task: task}
	var generic map[string]any
	if task == "check" || task == "on" || task == "ok" {
		var wire struct {
			Pods         map[string]json.RawMessage            `json:"pods"`
			Dependencies map[string]map[string]json.RawMessage `json:"dependencies"`
			Key          string                                `json:"key"`
		}
		if err := json.Unmarshal(body, &wire); err != nil || json.Unmarshal(body, &generic) != nil || wire.Pods == nil || wire.Dependencies == nil {
			p.violate("%s body %q: %v", task, body, err)
			http.Error(w, "bad body", http.StatusInternalServerError)
			return
		}
		req.Key, req.Pods, req.Dependencies = wire.Key, wire.Pods, wire.Dependencies
	}
	p.mu.Lock()
	p.requests = append(p.requests, req)
	switch task {
	case "on":
		deps := generic["dependencies"]
		if p.running && !jsonEqual(deps, p.lastDeps) {
			p.restarts++
		}
		if !p.running || !jsonEqual(deps, p.lastDeps) {
			p.starts++
		}
		p.running, p.lastDeps = true, deps
	case "off", "kill":
		p.running = false
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("{}"))
}

func cutFirst(s string) (first, rest string, ok bool) {
	for i := range len(s) {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func uuid4() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// uuid4Hex is the Kazoo Lock recipe's contender id: a random uuid4().hex, unrelated to the pod key.
func uuid4Hex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
