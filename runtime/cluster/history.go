package cluster

import (
	"encoding/json"
	"fmt"
	"slices"
)

// HistoryLimit is how many phases the history node keeps, newest last (DESIGN §13).
const HistoryLimit = 100

// TimeFormat is how a phase's At is written: fixed width in UTC, so that text order is time order.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Phase is one entry of a cluster's history node (DESIGN §13): a configuration phase as its leader saw it end.
type Phase struct {
	At         string   `json:"at"`     // when the phase ended, in TimeFormat
	Leader     string   `json:"leader"` // the leader's key
	Lock       string   `json:"lock"`   // the leader's lock node (its name under coordinator/)
	Hash       string   `json:"hash"`   // the hash the phase configured
	Pods       int      `json:"pods"`   // how many pods it configured
	Outcome    string   `json:"outcome"`
	DurationMs int64    `json:"duration_ms"`
	Dropped    []string `json:"dropped"` // pods that answered 410 and were left out
}

// ParseHistory reads a history node's data: a JSON array of phases, empty for no data. Entries are from
// ZooKeeper, so hostile: a node that is not such an array is an error, never a panic.
func ParseHistory(data []byte) ([]Phase, error) {
	if len(data) == 0 {
		return []Phase{}, nil
	}
	var out []Phase
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if out == nil {
		out = []Phase{}
	}
	for i := range out {
		if out[i].Dropped == nil {
			out[i].Dropped = []string{}
		}
	}
	return out, nil
}

// AppendHistory adds p in order of At (after the phases that ended at the same time: a write that
// finished late still lands in its place) and keeps the last HistoryLimit.
func AppendHistory(phases []Phase, p Phase) []Phase {
	if p.Dropped == nil {
		p.Dropped = []string{}
	}
	i := len(phases)
	for i > 0 && phases[i-1].At > p.At {
		i--
	}
	out := slices.Insert(phases, i, p)
	if len(out) > HistoryLimit {
		out = out[len(out)-HistoryLimit:]
	}
	return out
}
