package cluster

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/ochopod/ochopod/runtime/zk"
)

// Status is what ZooKeeper holds about one cluster, for operators (DESIGN §14): its pods, the lock's holder,
// the hash, the paused node and the history.
type Status struct {
	Cluster string
	Pods    []Pod // sorted by key
	Skipped []Skipped
	Holder  Holder
	Hash    string
	Paused  bool
	History []Phase // oldest first; empty when the node is missing or does not parse
	// HistoryErr says why the history node did not parse, "" when it did (or is missing).
	HistoryErr string
}

// Holder is the lowest contender of a cluster's lock, and the pod it belongs to.
type Holder struct {
	Contender string // its name under coordinator/, "" when nobody contends
	Key       string // the pod's key, "" when no pod matched
	Owner     int64  // its session
}

// Leader is the pod holding the lock, nil when none does (or none of the pods read matched it).
func (s *Status) Leader() *Pod {
	for i := range s.Pods {
		if s.Pods[i].Key == s.Holder.Key && s.Holder.Key != "" && (s.Holder.Owner == 0 || s.Pods[i].Owner == s.Holder.Owner) {
			return &s.Pods[i]
		}
	}
	return nil
}

// ReadStatus reads one cluster with pipelined requests: the pods' nodes in one GetAll, then the lock's
// holder, the hash, the paused node and the history in another.
func ReadStatus(conn zk.Conn, qualified string) (Status, error) {
	c := zk.Cluster{Qualified: qualified}
	st := Status{Cluster: qualified, History: []Phase{}}
	pods, skipped, err := ReadPods(conn, c)
	if err != nil {
		return st, err
	}
	st.Pods, st.Skipped = pods, skipped
	contenders, _, err := conn.Children(c.Coordinator())
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return st, fmt.Errorf("list %s: %w", c.Coordinator(), err)
	}
	sorted, _ := zk.SortContenders(contenders)
	paths := []string{c.Hash(), c.Paused(), c.History()}
	if len(sorted) > 0 {
		paths = append(paths, path.Join(c.Coordinator(), sorted[0].Name))
	}
	reads := zk.GetAll(conn, paths)
	for i, r := range reads {
		if r.Err != nil && !errors.Is(r.Err, zk.ErrNoNode) {
			return st, fmt.Errorf("read %s: %w", paths[i], r.Err)
		}
	}
	st.Hash = string(reads[0].Data)
	st.Paused = reads[1].Err == nil
	if reads[2].Err == nil {
		if h, err := ParseHistory(reads[2].Data); err != nil {
			st.HistoryErr = err.Error()
		} else {
			st.History = h
		}
	}
	if len(sorted) > 0 && reads[3].Err == nil { // else the holder left between the two reads: nobody leads
		st.Holder = matchHolder(sorted[0], reads[3], pods)
	}
	return st, nil
}

// matchHolder finds the pod of the lock's lowest contender. The session is the proof: a pod registers and
// contends on one session, an original (Python) pod too, whose Kazoo contender is named after a random uuid
// and holds no key (DESIGN §14). Failing that (the pod's node is not read yet), the contender's data (our
// pods write their key there) or its name (our pods' older form: the key without dashes) name the pod.
func matchHolder(ct zk.Contender, r zk.Read, pods []Pod) Holder {
	h := Holder{Contender: ct.Name, Owner: r.Stat.EphemeralOwner}
	for _, p := range pods {
		if p.Owner != 0 && p.Owner == h.Owner {
			h.Key = p.Key
			return h
		}
	}
	data := strings.TrimSpace(string(r.Data))
	for _, p := range pods {
		if (data != "" && p.Key == data) || strings.ReplaceAll(p.Key, "-", "") == ct.ID {
			h.Key, h.Owner = p.Key, 0
			return h
		}
	}
	return h
}

// ReadStatuses reads clusters side by side on the one connection (its requests are pipelined), in the order
// given. The first error wins.
func ReadStatuses(conn zk.Conn, qualified []string) ([]Status, error) {
	out := make([]Status, len(qualified))
	errs := make([]error, len(qualified))
	slots := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, q := range qualified {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			out[i], errs[i] = ReadStatus(conn, q)
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
