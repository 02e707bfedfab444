package gozk

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
)

// Connect dials the ensemble and waits until the session is established, for tools and tests that just want
// a working client. The session events are drained in the background until the connection closes; a caller
// that must react to disconnections and expiry uses Dialer.Dial and reads them itself.
func Connect(ctx context.Context, ens zk.Ensemble, sessionTimeout time.Duration, log *slog.Logger) (zk.Conn, error) {
	return ConnectWith(ctx, New(log), ens, sessionTimeout)
}

// ConnectWith is Connect through d (credentials, TLS: DESIGN §12).
func ConnectWith(ctx context.Context, d *Dialer, ens zk.Ensemble, sessionTimeout time.Duration) (zk.Conn, error) {
	conn, events, err := d.Dial(ens, sessionTimeout)
	if err != nil {
		return nil, err
	}
	up := make(chan struct{})
	go func() { // ends when the connection closes its event channel
		var once sync.Once
		for ev := range events {
			if ev.State == zk.StateConnected {
				once.Do(func() { close(up) })
			}
		}
	}()
	select {
	case <-up:
		return conn, nil
	case <-ctx.Done():
		conn.Close()
		return nil, fmt.Errorf("no ZooKeeper session with %s: %w", ens.String(), ctx.Err())
	}
}
