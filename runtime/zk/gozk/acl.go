package gozk

import (
	"context"
	"fmt"
	"net"
	"strings"

	gozk "github.com/go-zookeeper/zk"

	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/runtime/zk"
)

// NodeACL is the ACL of every node Ochopod creates (DESIGN §12), the one place that chooses it: without
// credentials, anyone may do anything (the original's open tree); with them, the digest user may do
// everything and anyone may read, or with private nobody else may.
func NodeACL(creds *security.ZKCredentials, private bool) []gozk.ACL {
	if creds == nil {
		return gozk.WorldACL(gozk.PermAll)
	}
	acl := gozk.DigestACL(gozk.PermAll, creds.User, creds.Password())
	if !private {
		acl = append(acl, gozk.WorldACL(gozk.PermRead)...)
	}
	return acl
}

// tlsDialer opens TLS connections to ZooKeeper; *security.ClientTLS is one.
type tlsDialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// authenticate adds the session's credentials once it is established (the library resends them before any
// other request after every reconnection), then reports Connected and checks the guarded nodes. A failure
// while the library is connected again (the connection dropped and came back during the call) tries again at
// once, a few times; otherwise the session stays Connecting and the next connection tries again.
func (c *conn) authenticate(server string) {
	defer c.wg.Done()
	for attempt := 1; ; attempt++ {
		err := c.raw.AddAuth("digest", c.authData)
		c.mu.Lock()
		if c.expired || c.closed {
			c.authing = false
			c.mu.Unlock()
			return
		}
		if err == nil {
			break
		}
		retry := c.libUp && attempt < 3
		if !retry {
			c.authing = false
		}
		c.mu.Unlock()
		c.log.Warn("zookeeper authentication failed", "err", err, "again", retry)
		if !retry {
			return
		}
	}
	c.authing, c.authed = false, true
	if c.libUp && c.state != zk.StateConnected {
		c.emitLocked(zk.StateConnected, server)
	}
	c.mu.Unlock()
	c.checkGuarded()
}

// checkGuarded warns, in one line, about the guarded nodes that exist with an ACL more open than NodeACL: the
// tree was made without credentials (or without --zk-private). The pod still works on it.
func (c *conn) checkGuarded() {
	private := true
	for _, a := range c.acl {
		if a.Scheme == "world" {
			private = false
		}
	}
	var writable, readable, acls []string
	for _, p := range c.guarded {
		acl, _, err := c.raw.GetACL(c.full(p))
		if err != nil {
			continue // missing, or unreadable: nothing to say
		}
		for _, a := range acl {
			if a.Scheme != "world" || a.ID != "anyone" {
				continue
			}
			switch {
			case a.Perms&^gozk.PermRead != 0:
				writable, acls = append(writable, p), append(acls, aclString(acl))
			case private:
				readable, acls = append(readable, p), append(acls, aclString(acl))
			}
		}
	}
	if len(writable) > 0 {
		c.log.Warn("zookeeper nodes were created without credentials: anyone may change them (set their ACL, see docs/SECURITY.md)",
			"paths", writable, "acls", acls)
	} else if len(readable) > 0 {
		c.log.Warn("zookeeper nodes were created without --zk-private: anyone may read them", "paths", readable, "acls", acls)
	}
}

// aclString prints an ACL without the digests' hashes.
func aclString(acl []gozk.ACL) string {
	s := ""
	for i, a := range acl {
		if i > 0 {
			s += ","
		}
		id := a.ID
		if a.Scheme == "digest" {
			id, _, _ = strings.Cut(id, ":")
		}
		s += fmt.Sprintf("%s:%s:%d", a.Scheme, id, a.Perms)
	}
	return s
}
