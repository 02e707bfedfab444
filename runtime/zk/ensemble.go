package zk

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is ZooKeeper's client port, used when a host names none.
const DefaultPort = 2181

// Ensemble is a parsed connection string: the servers and an optional chroot that prefixes every path.
type Ensemble struct {
	Servers []string // host:port, in the order given (the client shuffles them)
	Chroot  string   // "" or an absolute path without a trailing slash
}

// ParseEnsemble reads "host[:port][,host[:port]...][/chroot]". A "zk://" prefix, as found in Mesos settings, is
// accepted and dropped.
func ParseEnsemble(s string) (Ensemble, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "zk://"))
	if s == "" {
		return Ensemble{}, fmt.Errorf("%w: empty ZooKeeper connection string", ErrBadArguments)
	}
	hosts, chroot := s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		hosts, chroot = s[:i], strings.TrimRight(s[i:], "/")
		if err := ValidatePath(chrootOrRoot(chroot)); err != nil {
			return Ensemble{}, fmt.Errorf("chroot of %q: %w", s, err)
		}
	}
	var e Ensemble
	e.Chroot = chroot
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return Ensemble{}, fmt.Errorf("%w: empty host in %q", ErrBadArguments, s)
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = h, strconv.Itoa(DefaultPort)
			if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
				return Ensemble{}, fmt.Errorf("%w: bad host %q in %q", ErrBadArguments, h, s)
			}
		}
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 || host == "" {
			return Ensemble{}, fmt.Errorf("%w: bad host %q in %q", ErrBadArguments, h, s)
		}
		e.Servers = append(e.Servers, net.JoinHostPort(strings.Trim(host, "[]"), port))
	}
	return e, nil
}

// String gives the connection string back in canonical form.
func (e Ensemble) String() string { return strings.Join(e.Servers, ",") + e.Chroot }

func chrootOrRoot(c string) string {
	if c == "" {
		return "/"
	}
	return c
}

// ValidatePath checks that p is an absolute ZooKeeper path: it starts with '/', has no empty, "." or ".."
// segment and no trailing slash (except the root itself).
func ValidatePath(p string) error {
	if p == "/" {
		return nil
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("%w: path %q must start and not end with '/'", ErrBadArguments, p)
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsRune(seg, 0) {
			return fmt.Errorf("%w: bad segment in path %q", ErrBadArguments, p)
		}
	}
	return nil
}
