package pod

import (
	"context"
	"fmt"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// Health reports whether the pod's actors answer (DESIGN §13, /healthz): the session and, with a process,
// the lifecycle, each within ctx.
func (p *Pod) Health(ctx context.Context) error {
	if _, err := p.Status(timeoutOf(ctx)); err != nil {
		return err
	}
	_, err := p.LifecycleStatus(timeoutOf(ctx))
	return err
}

// Ready reports whether the pod serves (DESIGN §13, /readyz): its process runs and it was configured at
// least once; a pod without a process is ready once registered. When not, the reason says why.
func (p *Pod) Ready(ctx context.Context) (bool, string, error) {
	lc, err := p.LifecycleStatus(timeoutOf(ctx))
	if err != nil {
		return false, "", err
	}
	if lc == nil {
		st, err := p.Status(timeoutOf(ctx))
		if err != nil {
			return false, "", err
		}
		if !st.GetRegistered() {
			return false, "not registered in ZooKeeper yet", nil
		}
		return true, "", nil
	}
	switch {
	case !lc.GetConfigured():
		return false, "not configured yet: waiting for the leader", nil
	case lc.GetProcess() == v1.ProcessState_PROCESS_STATE_RUNNING:
		return true, "", nil
	}
	why := "the process is " + processName(lc.GetProcess())
	if x := lc.GetLastExit(); x != nil {
		why += fmt.Sprintf(" (last exit: code %d, signal %d; %d restarts)", x.GetCode(), x.GetSignal(), lc.GetRestarts())
	}
	return false, why, nil
}
