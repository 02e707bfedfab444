package kubernetes

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ochopod/ochopod/runtime/binding"
	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/runtime/spec"
)

// The parts of the Kubernetes objects the test reads.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas int `yaml:"replicas"`
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	TerminationGracePeriodSeconds int         `yaml:"terminationGracePeriodSeconds"`
	Containers                    []container `yaml:"containers"`
	Volumes                       []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
		} `yaml:"secret"`
	} `yaml:"volumes"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
			ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
			SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type keyRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

type probe struct {
	HTTPGet *struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"`
	} `yaml:"httpGet"`
}

// What the downward API would give, by field path: the values the binding must end up with.
var downward = map[string]string{ //nolint:gochecknoglobals // test fixture
	"status.podIP":       "10.1.2.3",
	"status.hostIP":      "192.168.7.9",
	"spec.nodeName":      "node-a",
	"metadata.name":      "pod-0",
	"metadata.namespace": "apps",
}

// load parses every manifest of the directory, each document of each file.
func load(t *testing.T) map[string][]object {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	out := map[string][]object{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Fatalf("%s: a document without apiVersion, kind or name: %+v", f, o)
			}
			out[f] = append(out[f], o)
		}
	}
	return out
}

func find(all map[string][]object, kind, name string) *object {
	for _, objs := range all {
		for i := range objs {
			if objs[i].Kind == kind && objs[i].Metadata.Name == name {
				return &objs[i]
			}
		}
	}
	return nil
}

// flagValue reads --name VALUE or --name=VALUE from args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// TestManifests_GiveTheKubernetesBindingWhatItNeeds: each workload's container runs `ochopod run` with the
// kubernetes binding, whose environment (downward API, ConfigMap and Secret keys that exist) resolves to the
// pod's IP, host IP, node, name and namespace and a ZooKeeper; probes on /healthz and /readyz at the control
// port; the spec it names is mounted and valid; the token file is the mounted Secret, which ships no token.
func TestManifests_GiveTheKubernetesBindingWhatItNeeds(t *testing.T) {
	all := load(t)
	workloads := map[string]bool{}
	for file, objs := range all {
		for _, o := range objs {
			if o.Kind != "Deployment" && o.Kind != "StatefulSet" {
				continue
			}
			for _, c := range o.Spec.Template.Spec.Containers {
				where := file + ": " + o.Kind + "/" + o.Metadata.Name + " container " + c.Name
				checkContainer(t, where, all, o.Spec.Template.Spec, c)
				workloads[flagValue(c.Args, "cluster")] = true
			}
		}
	}
	for _, want := range []string{"zookeeper", "redis", "web", "haproxy"} {
		if !workloads[want] {
			t.Errorf("no manifest runs the %s cluster", want)
		}
	}
	if zk := find(all, "StatefulSet", "zookeeper"); zk == nil || zk.Spec.Replicas != 3 {
		t.Error("want a StatefulSet zookeeper of 3 members")
	}
	tokens := find(all, "Secret", "ochopod-tokens")
	if tokens == nil {
		t.Fatal("no Secret ochopod-tokens for the token file (DESIGN §12)")
	}
	if _, err := security.ParseTokens([]byte(tokens.StringData["tokens"])); err == nil {
		t.Error("the Secret ochopod-tokens ships a usable token: a secret published in the repository")
	}
}

func checkContainer(t *testing.T, where string, all map[string][]object, pod podSpec, c container) {
	t.Helper()
	if len(c.Args) == 0 || c.Args[0] != "run" || len(c.Command) != 0 {
		t.Errorf("%s: want the image's entrypoint (ochopod) with args run ..., got command %q args %q", where, c.Command, c.Args)
		return
	}
	if b := flagValue(c.Args, "binding"); b != "kubernetes" {
		t.Errorf("%s: --binding %q, want kubernetes", where, b)
	}
	env := binding.Env{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			v, ok := downward[e.ValueFrom.FieldRef.FieldPath]
			if !ok {
				t.Errorf("%s: %s from an unexpected field %s", where, e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
			env[e.Name] = v
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm := find(all, "ConfigMap", ref.Name)
			if cm == nil || cm.Data[ref.Key] == "" {
				t.Errorf("%s: %s from ConfigMap %s key %s, which is not in the manifests", where, e.Name, ref.Name, ref.Key)
				continue
			}
			env[e.Name] = cm.Data[ref.Key]
		default:
			t.Errorf("%s: %s from an unexpected source", where, e.Name)
		}
	}
	control := 8080
	if p := flagValue(c.Args, "port"); p != "" {
		control, _ = strconv.Atoi(p)
	}
	// No interface to fall back on: the IP must come from the manifest.
	k := binding.Kubernetes{Interfaces: func() ([]net.Addr, error) { return nil, errors.New("no interfaces in this test") }}
	loc, err := k.Resolve(env, control)
	if err != nil {
		t.Errorf("%s: the kubernetes binding fails on this environment: %v", where, err)
		return
	}
	if loc.IP != downward["status.podIP"] || loc.Public != downward["status.hostIP"] || loc.Node != downward["spec.nodeName"] ||
		loc.Task != downward["metadata.name"] || loc.Application != downward["metadata.namespace"] {
		t.Errorf("%s: the binding resolved %+v: want the pod IP, host IP, node, pod name and namespace of the downward API", where, loc)
	}
	if loc.ZK == "" {
		t.Errorf("%s: no ochopod_zk: the kubernetes binding cannot find ZooKeeper by itself", where)
	}
	if loc.Ports[strconv.Itoa(control)] != int64(control) {
		t.Errorf("%s: ports %v: want the control port %d mapped to itself", where, loc.Ports, control)
	}
	if env["ochopod_namespace"] == "" && flagValue(c.Args, "namespace") == "" {
		t.Errorf("%s: no Ochopod namespace", where)
	}

	// Probes on the control port (DESIGN §13).
	portOf := func(n yaml.Node) int {
		if p, err := strconv.Atoi(n.Value); err == nil {
			return p
		}
		for _, p := range c.Ports {
			if p.Name == n.Value {
				return p.ContainerPort
			}
		}
		return -1
	}
	for _, pr := range []struct {
		name, path string
		p          *probe
	}{{"liveness", "/healthz", c.LivenessProbe}, {"readiness", "/readyz", c.ReadinessProbe}} {
		if pr.p == nil || pr.p.HTTPGet == nil || pr.p.HTTPGet.Path != pr.path || portOf(pr.p.HTTPGet.Port) != control {
			t.Errorf("%s: want a %s probe GET %s on the control port %d", where, pr.name, pr.path, control)
		}
	}

	// Mounted files: the spec (a ConfigMap) and the token file (the Secret).
	mounted := func(path string) (volume string, sub string) {
		for _, m := range c.VolumeMounts {
			if rest, ok := strings.CutPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/"); ok {
				return m.Name, rest
			}
		}
		return "", ""
	}
	volumeOf := func(name string) (configMap, secret string) {
		for _, v := range pod.Volumes {
			if v.Name == name {
				if v.ConfigMap != nil {
					configMap = v.ConfigMap.Name
				}
				if v.Secret != nil {
					secret = v.Secret.SecretName
				}
			}
		}
		return configMap, secret
	}
	specPath := flagValue(c.Args, "spec")
	vol, key := mounted(specPath)
	cmName, _ := volumeOf(vol)
	cm := find(all, "ConfigMap", cmName)
	if specPath == "" || cm == nil || cm.Data[key] == "" {
		t.Errorf("%s: --spec %q is not a key of a mounted ConfigMap", where, specPath)
	} else if sp, err := spec.Parse([]byte(cm.Data[key]), cmName+"/"+key); err != nil {
		t.Errorf("%s: the spec does not load: %v", where, err)
	} else if g := sp.Grace; g != nil && pod.TerminationGracePeriodSeconds > 0 && float64(pod.TerminationGracePeriodSeconds) <= g.Std().Seconds() {
		t.Errorf("%s: terminationGracePeriodSeconds %d leaves Ochopod no time past its grace %s", where, pod.TerminationGracePeriodSeconds, g.Std())
	}
	tokenPath := env["ochopod_token_file"]
	vol, key = mounted(tokenPath)
	if _, secret := volumeOf(vol); secret != "ochopod-tokens" || key != "tokens" {
		t.Errorf("%s: ochopod_token_file %q is not the key tokens of the mounted Secret ochopod-tokens", where, tokenPath)
	}
	if !slices.ContainsFunc(c.Ports, func(p struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	}) bool {
		return p.ContainerPort == control
	}) {
		t.Errorf("%s: the control port %d is not a container port", where, control)
	}
}
