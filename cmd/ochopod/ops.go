package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
)

// opsSettings are the flags every operator verb shares (DESIGN §14): where ZooKeeper is, the namespace of
// short cluster names, the output format, and the security settings of §12.
type opsSettings struct {
	zk        string
	namespace string
	output    string
	timeout   time.Duration
	security  opsSecurity
}

// opsEnv maps the shared flags to the environment variables they fall back to, as `run` does (DESIGN §9, §12).
func opsEnv() map[string]string {
	return map[string]string{
		"zk":        "ochopod_zk",
		"namespace": "ochopod_namespace",
	}
}

func (o *opsSettings) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.zk, "zk", "", "ZooKeeper ensemble, host:port[,host:port...][/chroot] (env ochopod_zk)")
	fs.StringVar(&o.namespace, "namespace", "", "namespace of cluster names given without one (env ochopod_namespace)")
	fs.StringVarP(&o.output, "output", "o", "table", "table | json | yaml")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for ZooKeeper and for each pod")
	o.security.register(fs)
}

// opsCommand builds a verb with the shared flags, their environment fallbacks and their checks; run gets the
// settings ready to use.
func opsCommand(c *cobra.Command, run func(cmd *cobra.Command, o *opsSettings, args []string) error) *cobra.Command {
	return opsCommandWith(c, &opsSettings{}, run)
}

// opsCommandWith is opsCommand on settings the caller holds already (its completion reads them too).
func opsCommandWith(c *cobra.Command, o *opsSettings, run func(cmd *cobra.Command, o *opsSettings, args []string) error) *cobra.Command {
	o.register(c.Flags())
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.prepare(cmd); err != nil {
			return err
		}
		return run(cmd, o, args)
	}
	return c
}

// prepare applies the environment fallbacks (flags win) and checks the settings.
func (o *opsSettings) prepare(cmd *cobra.Command) error {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for flag, key := range opsEnv() {
		v, ok := env[key]
		if !ok || cmd.Flags().Changed(flag) {
			continue
		}
		if err := cmd.Flags().Set(flag, v); err != nil {
			return usagef("%s=%q: %v", key, v, err)
		}
	}
	if err := applySecurityEnv(cmd, env); err != nil { // ochopod_<flag>, as `run` (DESIGN §12)
		return err
	}
	switch o.output {
	case "table", "json", "yaml":
	case "dot":
		if cmd.Name() != "graph" {
			return usagef("-o dot is for graph only")
		}
	default:
		return usagef("-o %q: want table, json or yaml", o.output)
	}
	if o.timeout <= 0 {
		return usagef("--timeout %s must be positive", o.timeout)
	}
	if o.namespace != "" {
		if err := validName("namespace", o.namespace, true); err != nil {
			return err
		}
	}
	return o.security.load()
}

// connect opens a ZooKeeper session for one command; the caller closes it.
func (o *opsSettings) connect(ctx context.Context) (zk.Conn, error) {
	if o.zk == "" {
		return nil, usagef("no ZooKeeper: give --zk or set ochopod_zk")
	}
	ens, err := zk.ParseEnsemble(o.zk)
	if err != nil {
		return nil, usagef("--zk: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	conn, err := o.security.dialZK(ctx, ens, o.timeout)
	if err != nil {
		return nil, fmt.Errorf("cannot reach ZooKeeper at %s: %w", o.zk, err)
	}
	return conn, nil
}

// qualify turns a cluster name as the operator typed it into its qualified name: a name with a dot is
// qualified already; else --namespace qualifies it, or, without one, the one registered cluster of that name.
func (o *opsSettings) qualify(conn zk.Conn, name string) (string, error) {
	if name == "" {
		return "", usagef("no cluster given")
	}
	if strings.Contains(name, ".") {
		return name, nil
	}
	if o.namespace != "" {
		return o.namespace + "." + name, nil
	}
	all, err := cluster.List(conn)
	if err != nil {
		return "", err
	}
	var found []string
	for _, q := range all {
		if strings.HasSuffix(q, "."+name) {
			found = append(found, q)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no cluster named %q in ZooKeeper (ochopod ls lists them)", name)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%q is in several namespaces (%s): give --namespace or the qualified name", name, strings.Join(found, ", "))
}

// errNoSuchCluster is returned when a cluster has no node at all in ZooKeeper.
var errNoSuchCluster = errors.New("no such cluster")

// existing is qualify for a cluster that must be registered: errNoSuchCluster when it has no node.
func (o *opsSettings) existing(conn zk.Conn, name string) (string, error) {
	q, err := o.qualify(conn, name)
	if err != nil {
		return "", err
	}
	ok, _, err := conn.Exists(zk.Cluster{Qualified: q}.Path())
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%w: %s (ochopod ls lists the clusters)", errNoSuchCluster, q)
	}
	return q, nil
}

// connectFor wraps the connection's life around fn.
func (o *opsSettings) withZK(ctx context.Context, fn func(conn zk.Conn) error) error {
	conn, err := o.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn)
}
