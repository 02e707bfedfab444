package original

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
)

// run contends for the lock and leads while it holds it, until ctx ends.
func (p *Pod) run(ctx context.Context) {
	defer close(p.done)
	for ctx.Err() == nil {
		lead, wait, err := p.contend()
		switch {
		case err != nil:
			p.log.Debug("contending again", "err", err)
			wait = after(p.cfg.Retry)
		case lead:
			p.lead(ctx)
			continue
		}
		select {
		case <-wait:
		case <-ctx.Done():
		}
	}
}

// contend: the lowest sequence leads; the others watch their predecessor (the Kazoo Lock recipe).
func (p *Pod) contend() (bool, <-chan zk.WatchEvent, error) {
	children, _, err := p.conn.Children(p.cl.Coordinator())
	if err != nil {
		return false, nil, err
	}
	p.mu.Lock()
	own := path.Base(p.lock)
	p.mu.Unlock()
	contenders, _ := zk.SortContenders(children)
	for i, c := range contenders {
		if c.Name != own {
			continue
		}
		if i == 0 {
			return true, nil, nil
		}
		ok, _, ch, err := p.conn.ExistsW(path.Join(p.cl.Coordinator(), contenders[i-1].Name))
		if err != nil {
			return false, nil, err
		}
		if !ok {
			return false, after(0), nil
		}
		return false, ch, nil
	}
	return false, nil, fmt.Errorf("our contender %s is not in line", own)
}

func after(d time.Duration) <-chan zk.WatchEvent {
	ch := make(chan zk.WatchEvent, 1)
	if d == 0 {
		ch <- zk.WatchEvent{}
		return ch
	}
	time.AfterFunc(d, func() { ch <- zk.WatchEvent{} })
	return ch
}

// lead is the original's reactive model: read, hash, configure when the hash differs from ZooKeeper's; until
// the lock node is gone or ctx ends.
func (p *Pod) lead(ctx context.Context) {
	p.mu.Lock()
	p.leading = true
	lock := p.lock
	p.mu.Unlock()
	defer func() { p.mu.Lock(); p.leading = false; p.mu.Unlock() }()
	p.log.Info("leading")
	if _, err := p.conn.Create(p.cl.Snapshot(), []byte("{}"), zk.Ephemeral); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		p.log.Warn("cannot create the snapshot", "err", err)
		return
	}
	for ctx.Err() == nil {
		ok, _, lockCh, err := p.conn.ExistsW(lock)
		if err != nil || !ok {
			return
		}
		w := &watches{chans: []<-chan zk.WatchEvent{lockCh}}
		if err := p.step(w); err != nil {
			p.log.Warn("configuration failed", "err", err)
			w.add(after(p.cfg.Retry))
		}
		w.wait(ctx)
	}
}

// step reads the cluster and its dependencies (leaving watches in w) and configures them if the hash changed.
func (p *Pod) step(w *watches) error {
	pods, err := p.readPods(w)
	if err != nil {
		return err
	}
	deps, err := p.readDependencies(w)
	if err != nil {
		return err
	}
	sum, err := hashOf(pods, deps)
	if err != nil {
		return err
	}
	last, _, err := p.conn.Get(p.cl.Hash())
	if err != nil {
		return err
	}
	if last == nil {
		p.violate("%s holds null data", p.cl.Hash())
	}
	if string(last) == sum {
		return p.ownSnapshot(pods)
	}
	return p.configure(pods, deps, sum)
}

// ownSnapshot rewrites the snapshot when it is not the pods (a new leader's is {}), as the original does after
// a change with no hash impact.
func (p *Pod) ownSnapshot(pods map[string]json.RawMessage) error {
	data, _, err := p.conn.Get(p.cl.Snapshot())
	if err != nil {
		return err
	}
	var have, want any
	_ = json.Unmarshal(data, &have)
	b, err := json.Marshal(pods)
	if err != nil {
		return err
	}
	_ = json.Unmarshal(b, &want)
	if reflect.DeepEqual(have, want) {
		return nil
	}
	_, err = p.conn.Set(p.cl.Snapshot(), b, zk.AnyVersion)
	return err
}

// readPods reads pods/ as the original's local watcher does (key -> payload); a node still empty (created,
// not yet filled) is left out and watched.
func (p *Pod) readPods(w *watches) (map[string]json.RawMessage, error) {
	names, _, ch, err := p.conn.ChildrenW(p.cl.Pods())
	if err != nil {
		return nil, err
	}
	w.add(ch)
	pods := map[string]json.RawMessage{}
	for _, name := range names {
		node, err := zk.ParsePodNode(name)
		if err != nil {
			continue
		}
		data, _, ch, err := p.conn.GetW(path.Join(p.cl.Pods(), name))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		w.add(ch)
		if len(data) == 0 {
			continue
		}
		var obj map[string]any
		if json.Unmarshal(data, &obj) != nil || obj == nil {
			p.violate("pod node %s holds %q", name, data)
			continue
		}
		pods[node.Key] = data
	}
	return pods, nil
}

// readDependencies keys each depends_on entry as declared; a wildcard ('*') merges the snapshots of every
// cluster it matches, the own cluster left out (the original's remote watcher).
func (p *Pod) readDependencies(w *watches) (map[string]map[string]json.RawMessage, error) {
	deps := map[string]map[string]json.RawMessage{}
	for _, entry := range p.cfg.DependsOn {
		merged := map[string]json.RawMessage{}
		where := p.cfg.Namespace + "." + entry
		if strings.HasPrefix(entry, "/") {
			where = entry[1:]
		}
		var clusters []string
		if strings.Contains(entry, "*") {
			names, _, ch, err := p.conn.ChildrenW(zk.Root)
			if err != nil {
				return nil, err
			}
			w.add(ch)
			for _, c := range names {
				if ok, _ := path.Match(where, c); ok && c != p.cl.Qualified {
					clusters = append(clusters, c)
				}
			}
		} else if where != p.cl.Qualified {
			clusters = []string{where}
		}
		for _, c := range clusters {
			snap := zk.Cluster{Qualified: c}.Snapshot()
			ok, _, ch, err := p.conn.ExistsW(snap)
			if err != nil {
				return nil, err
			}
			w.add(ch)
			if !ok {
				continue
			}
			data, _, ch, err := p.conn.GetW(snap)
			if errors.Is(err, zk.ErrNoNode) {
				continue
			}
			if err != nil {
				return nil, err
			}
			w.add(ch)
			var pods map[string]json.RawMessage
			if json.Unmarshal(data, &pods) == nil { // the original passes over what it cannot decode
				for k, v := range pods {
					merged[k] = v
				}
			}
		}
		deps[entry] = merged
	}
	return deps, nil
}

// hashOf is an MD5 of the original's own making: of its snapshots dict, {"local": pods, <entry>: pods...}.
// Ours hashes another document, so the two kinds never agree on a hash (DESIGN §2).
func hashOf(pods map[string]json.RawMessage, deps map[string]map[string]json.RawMessage) (string, error) {
	doc := map[string]any{"local": pods}
	for k, v := range deps {
		doc[k] = v
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	sum := md5.Sum(b)
	parts := make([]string, len(sum))
	for i, x := range sum {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":"), nil
}

// configure runs check, on and ok against every pod in key order, then sets snapshot and hash: no fencing,
// no cleared hash, as the original.
func (p *Pod) configure(pods map[string]json.RawMessage, deps map[string]map[string]json.RawMessage, sum string) error {
	keys := make([]string, 0, len(pods))
	urls := map[string]string{}
	for k, raw := range pods {
		var pl struct {
			IP    string         `json:"ip"`
			Port  string         `json:"port"`
			Ports map[string]int `json:"ports"`
		}
		if err := json.Unmarshal(raw, &pl); err != nil || pl.Ports[pl.Port] == 0 {
			// The original looks every pod up by its own control port (8080 in every container); pods sharing
			// one host here each have their own, so each pod's own is used.
			return fmt.Errorf("pod %s does not expose its control port", k)
		}
		keys = append(keys, k)
		urls[k] = fmt.Sprintf("http://%s:%d", pl.IP, pl.Ports[pl.Port])
	}
	sort.Strings(keys)
	client := &http.Client{Timeout: p.cfg.Grace * 5 / 4}
	call := func(task, key string) (int, error) {
		body, err := json.Marshal(map[string]any{"pods": pods, "dependencies": deps, "key": key})
		if err != nil {
			return 0, err
		}
		url := fmt.Sprintf("%s/control/%s/%d", urls[key], task, int(p.cfg.Grace.Seconds()))
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	var alive []string
	for _, k := range keys {
		code, err := call("check", k)
		switch {
		case err == nil && code == http.StatusGone:
			delete(pods, k)
		case err != nil || code != http.StatusOK:
			return fmt.Errorf("check of %s: %d %v", k, code, err)
		default:
			alive = append(alive, k)
		}
	}
	for _, task := range []string{"on", "ok"} {
		for _, k := range alive {
			if code, err := call(task, k); task == "on" && (err != nil || code != http.StatusOK) {
				return fmt.Errorf("on of %s: %d %v", k, code, err)
			}
		}
	}
	snap, err := json.Marshal(pods)
	if err != nil {
		return err
	}
	if _, err := p.conn.Set(p.cl.Snapshot(), snap, zk.AnyVersion); err != nil {
		return err
	}
	if _, err := p.conn.Set(p.cl.Hash(), []byte(sum), zk.AnyVersion); err != nil {
		return err
	}
	p.mu.Lock()
	p.phases++
	p.lastHash = sum
	p.mu.Unlock()
	p.log.Info("configured", "pods", len(alive), "hash", sum)
	return nil
}

// watches fans the one-shot watches of one look at ZooKeeper into one wait.
type watches struct{ chans []<-chan zk.WatchEvent }

func (w *watches) add(ch <-chan zk.WatchEvent) { w.chans = append(w.chans, ch) }

// wait returns when any watch fired or ctx ended.
func (w *watches) wait(ctx context.Context) {
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
	for _, ch := range w.chans {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	reflect.Select(cases)
}

func jsonEqual(a, b any) bool { return reflect.DeepEqual(a, b) }
