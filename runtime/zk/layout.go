package zk

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Root is where every Ochopod cluster lives (DESIGN §3), shared with the original implementation.
const Root = "/ochopod/clusters"

// SequenceDigits is the width of ZooKeeper's sequential suffix.
const SequenceDigits = 10

// Cluster is the ZooKeeper layout of one cluster, /ochopod/clusters/<namespace>.<cluster> (DESIGN §3).
type Cluster struct {
	Qualified string // <namespace>.<cluster>
}

// ClusterOf builds the layout of namespace.cluster.
func ClusterOf(namespace, cluster string) Cluster {
	return Cluster{Qualified: namespace + "." + cluster}
}

// Path is the cluster's own node.
func (c Cluster) Path() string { return Root + "/" + c.Qualified }

// Pods holds one ephemeral-sequential node per live pod.
func (c Cluster) Pods() string { return c.Path() + "/pods" }

// Coordinator holds the leader lock's contenders.
func (c Cluster) Coordinator() string { return c.Path() + "/coordinator" }

// Snapshot is the ephemeral node the leader writes after each configuration.
func (c Cluster) Snapshot() string { return c.Path() + "/snapshot" }

// Hash is the persistent node holding the last configuration's hash.
func (c Cluster) Hash() string { return c.Path() + "/hash" }

// History is the persistent node of the cluster's last phases, written by the leader (DESIGN §13).
func (c Cluster) History() string { return c.Path() + "/history" }

// Paused is the persistent node whose presence stops the leader from starting phases (DESIGN §13).
func (c Cluster) Paused() string { return c.Path() + "/paused" }

// PodPrefix is the name a pod's node starts with before the server appends the sequence.
func (c Cluster) PodPrefix(key string) string { return c.Pods() + "/" + key + "." }

// ParseSequential splits "<prefix><10 digits>" into the prefix and the sequence. ok is false for a name that
// does not end in a sequence, such as a node some other tool created.
func ParseSequential(name string) (prefix string, seq int64, ok bool) {
	name = path.Base(name)
	if len(name) < SequenceDigits {
		return "", 0, false
	}
	digits := name[len(name)-SequenceDigits:]
	for _, r := range digits {
		if r < '0' || r > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return name[:len(name)-SequenceDigits], n, true
}

// PodNode is a parsed child name of pods/: "<key>.<sequence>".
type PodNode struct {
	Name string
	Key  string
	Seq  int64
}

// ParsePodNode reads a child of pods/. It fails on names that are not "<key>.<10 digits>".
func ParsePodNode(name string) (PodNode, error) {
	prefix, seq, ok := ParseSequential(name)
	if !ok || !strings.HasSuffix(prefix, ".") || len(prefix) < 2 {
		return PodNode{}, fmt.Errorf("%w: %q is not a pod node (<key>.<sequence>)", ErrBadArguments, name)
	}
	return PodNode{Name: name, Key: strings.TrimSuffix(prefix, "."), Seq: seq}, nil
}

// LockMarker separates a contender's id from its sequence, as in the Kazoo Lock recipe, so that original
// (Python) pods and ours contend on the same lock.
const LockMarker = "__lock__"

// Contender is a parsed child of coordinator/: "<id>__lock__<sequence>".
type Contender struct {
	Name string
	ID   string
	Seq  int64
}

// ParseContender reads a child of coordinator/: "<id>__lock__<10 digits>", the id being up to 32 hex digits
// (Kazoo's uuid4().hex, or a pod's key without its dashes). Names of another form (Kazoo's read locks,
// foreign nodes, a forged "__lock__0000000000") fail: they hold no place in line (DESIGN §12).
func ParseContender(name string) (Contender, error) {
	prefix, seq, ok := ParseSequential(name)
	id, marked := strings.CutSuffix(prefix, LockMarker)
	if !ok || !marked || !hexID(id) {
		return Contender{}, fmt.Errorf("%w: %q is not a lock contender (<hex id>__lock__<10 digits>)", ErrBadArguments, name)
	}
	return Contender{Name: name, ID: id, Seq: seq}, nil
}

// hexID tells a contender's id: 1 to 32 hex digits.
func hexID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// SortContenders parses names and orders the contenders by sequence, lowest (the holder) first. Names that are
// not contenders are returned apart so the caller can warn about them.
func SortContenders(names []string) (contenders []Contender, foreign []string) {
	for _, n := range names {
		c, err := ParseContender(n)
		if err != nil {
			foreign = append(foreign, n)
			continue
		}
		contenders = append(contenders, c)
	}
	sort.Slice(contenders, func(i, j int) bool {
		if contenders[i].Seq != contenders[j].Seq {
			return contenders[i].Seq < contenders[j].Seq
		}
		return contenders[i].Name < contenders[j].Name
	})
	return contenders, foreign
}
