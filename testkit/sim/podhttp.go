package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// addr is where the pod's control port listens on the sim's network (http.go).
func (p *pod) addr() string { return strings.TrimPrefix(p.url, "http://") }

// handler serves the pod's control port: /control/<task>[/<timeout>][?phase=] answered by control (DESIGN §8),
// with the cluster read from the leader's body.
func (p *pod) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/control/")
		if !ok || r.Method != http.MethodPost {
			reply(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
			return
		}
		task, _, _ := strings.Cut(rest, "/")
		var in sdk.Wire
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			reply(w, http.StatusBadRequest, "cannot read the cluster: "+err.Error())
			return
		}
		code, err := p.control(task, r.URL.Query().Get(control.PhaseParam), wireOf(in))
		if err != nil {
			reply(w, http.StatusInternalServerError, err.Error())
			return
		}
		reply(w, code, "")
	})
}

// wireOf is the sim's view of a control body.
func wireOf(in sdk.Wire) *wire {
	w := &wire{pods: in.Pods, keys: sortedKeys(in.Pods), deps: sortedKeys(in.Dependencies)}
	if w.pods == nil {
		w.pods = map[string]payload.Payload{}
	}
	return w
}

// reply writes a control reply: {} or {"error": ...}.
func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if msg == "" {
		fmt.Fprint(w, "{}")
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
