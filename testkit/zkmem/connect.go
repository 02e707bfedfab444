package zkmem

import (
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
)

// ConnectTimeout is the session timeout of Connect's sessions.
const ConnectTimeout = 10 * time.Second

// Connect opens a session for a test that only needs a connection: it fails the test if the session cannot
// be opened, and closes it when the test ends.
func (s *Server) Connect(t testing.TB) zk.Conn {
	t.Helper()
	c, _, err := s.Dial(zk.Ensemble{Servers: []string{ServerName}}, ConnectTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
