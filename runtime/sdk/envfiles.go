package sdk

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// MaxEnvString is Linux's limit on one environment string, "KEY=VALUE" with its NUL (MAX_ARG_STRLEN: 32
// pages). A longer one fails the whole exec with E2BIG.
const MaxEnvString = 128 << 10

// Variables of DESIGN §11 that name the cluster's files.
const (
	EnvPodsFile         = "OCHOPOD_PODS_FILE"
	EnvDependenciesFile = "OCHOPOD_DEPENDENCIES_FILE"
)

// Fit drops from vars each variable that would not fit in one environment string, and returns their names,
// sorted: OCHOPOD_PODS of a few hundred pods is over the limit, and the files carry it whatever its size.
func Fit(vars map[string]string) (dropped []string) {
	for k, v := range vars {
		if len(k)+len(v)+2 > MaxEnvString {
			delete(vars, k)
			dropped = append(dropped, k)
		}
	}
	slices.Sort(dropped)
	return dropped
}

// ClusterFiles is where a pod writes the documents of DESIGN §11 for its process: OCHOPOD_PODS and
// OCHOPOD_DEPENDENCIES as files (JSON, mode 0600), in a directory private to the pod (0700). The zero value
// writes no file.
type ClusterFiles struct {
	Dir string
}

// NewClusterFiles makes a private directory for one pod's files under the system's temporary directory; the
// pod removes it with Remove when it stops.
func NewClusterFiles() (ClusterFiles, error) {
	dir, err := os.MkdirTemp("", "ochopod-")
	if err != nil {
		return ClusterFiles{}, fmt.Errorf("cluster files: %w", err)
	}
	return ClusterFiles{Dir: dir}, nil
}

// Remove deletes the directory and its files.
func (f ClusterFiles) Remove() error {
	if f.Dir == "" {
		return nil
	}
	return os.RemoveAll(f.Dir)
}

// Environ is what the runtime adds to the process's environment for the envelope's cluster (DESIGN §11): the
// OCHOPOD_* variables that fit in one environment string, and OCHOPOD_PODS_FILE and OCHOPOD_DEPENDENCIES_FILE,
// always, written first. A failure becomes OCHOPOD_ERROR, as in Envelope.Environ.
func (f ClusterFiles) Environ(e *Envelope) []string {
	vars, err := e.Env()
	if err == nil {
		err = f.write(vars)
	}
	if err != nil {
		return []string{"OCHOPOD_ERROR=" + err.Error()}
	}
	Fit(vars)
	out := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// write puts OCHOPOD_PODS and OCHOPOD_DEPENDENCIES of vars into their files and names them in vars.
func (f ClusterFiles) write(vars map[string]string) error {
	if f.Dir == "" {
		return nil
	}
	for _, doc := range []struct{ from, name, file string }{
		{"OCHOPOD_PODS", EnvPodsFile, "pods.json"},
		{"OCHOPOD_DEPENDENCIES", EnvDependenciesFile, "dependencies.json"},
	} {
		path := filepath.Join(f.Dir, doc.file)
		if err := replaceFile(path, []byte(vars[doc.from])); err != nil {
			return fmt.Errorf("cluster files: %w", err)
		}
		vars[doc.name] = path
	}
	return nil
}

// replaceFile writes a 0600 file beside path and renames it over path: a process still reading the last
// configuration's file keeps reading it whole.
func replaceFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}
