package binding

import (
	"fmt"
	"strings"
)

// Auto picks a binding from the environment at each Resolve (DESIGN §11's default, --binding auto), so one
// image runs unchanged on a laptop, on Kubernetes and on Marathon. The order, first match wins:
//
//  1. ochopod_local=true: Local (the user's explicit wish beats any platform's traces);
//  2. KUBERNETES_SERVICE_HOST set (the kubelet sets it in every container): Kubernetes;
//  3. MARATHON_APP_ID or MESOS_TASK_ID set: Marathon;
//  4. otherwise Generic, which needs nothing but can be told everything.
//
// The Location it returns names the binding it picked, never "auto".
type Auto struct {
	Local      Local
	Generic    Generic
	Marathon   Marathon
	Kubernetes Kubernetes
}

// Name is "auto".
func (Auto) Name() string { return "auto" }

// Detect returns the binding env calls for, with the reason it was picked.
func (a Auto) Detect(env Env) (Binding, string) {
	set := func(k string) bool { return strings.TrimSpace(env[k]) != "" }
	switch {
	case env["ochopod_local"] == "true":
		return a.Local, "ochopod_local=true"
	case set("KUBERNETES_SERVICE_HOST"):
		return a.Kubernetes, "KUBERNETES_SERVICE_HOST is set"
	case set("MARATHON_APP_ID"):
		return a.Marathon, "MARATHON_APP_ID is set"
	case set("MESOS_TASK_ID"):
		return a.Marathon, "MESOS_TASK_ID is set"
	}
	return a.Generic, "no platform detected"
}

// Resolve resolves with the detected binding; an error says which binding was picked and why, since the user
// did not choose it.
func (a Auto) Resolve(env Env, controlPort int) (Location, error) {
	b, why := a.Detect(env)
	loc, err := b.Resolve(env, controlPort)
	if err != nil {
		return loc, fmt.Errorf("auto binding picked %s (%s): %w", b.Name(), why, err)
	}
	return loc, nil
}
