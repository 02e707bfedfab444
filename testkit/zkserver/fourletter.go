package zkserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

const (
	// fourLetterTimeout bounds one four-letter-word exchange when the caller's context has no earlier deadline.
	fourLetterTimeout = 5 * time.Second
	// fourLetterIdle ends a response once data has arrived and the server has gone quiet. ZooKeeper writes a
	// four-letter-word response at once and then closes the socket, but 3.8.0 fails to close it while it is not yet
	// serving (a NullPointerException in ServerCnxn.cleanupWriterSocket), which would otherwise stall every
	// readiness probe until its deadline.
	fourLetterIdle = 250 * time.Millisecond
)

// Modes reported by srvr once a server is serving.
const (
	ModeStandalone = "standalone"
	ModeLeader     = "leader"
	ModeFollower   = "follower"
)

// notServing is what ZooKeeper answers to four-letter words before it serves clients.
const notServing = "not currently serving requests"

// FourLetterWord sends a ZooKeeper four-letter command (srvr, mntr, ruok, stat, ...) to addr and returns the raw
// response. It does not need a ZooKeeper client library, which is why it serves as the readiness probe.
func FourLetterWord(ctx context.Context, addr, cmd string) (string, error) {
	if len(cmd) != 4 {
		return "", fmt.Errorf("zkserver: four-letter word %q does not have four letters", cmd)
	}
	ctx, cancel := context.WithTimeout(ctx, fourLetterTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("zkserver: %s to %s: %w", cmd, addr, err)
	}
	defer func() { _ = conn.Close() }()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return "", fmt.Errorf("zkserver: %s to %s: set deadline: %w", cmd, addr, err)
	}
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return "", fmt.Errorf("zkserver: %s to %s: send: %w", cmd, addr, err)
	}
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		out = append(out, buf[:n]...)
		switch {
		case err == nil && strings.Contains(string(out), notServing+"\n"):
			// Complete, and possibly never followed by a close (see fourLetterIdle).
			return string(out), nil
		case err == nil && len(out) > 0:
			// From now on a short silence ends the response.
			if idle := time.Now().Add(fourLetterIdle); idle.Before(deadline) {
				if err := conn.SetReadDeadline(idle); err != nil {
					return "", fmt.Errorf("zkserver: %s to %s: set deadline: %w", cmd, addr, err)
				}
			}
		case err == nil:
		case len(out) > 0 && (errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded)):
			return string(out), nil
		case errors.Is(err, io.EOF):
			return "", fmt.Errorf("zkserver: %s to %s: connection closed without a response (is %s whitelisted?)",
				cmd, addr, cmd)
		default:
			return "", fmt.Errorf("zkserver: %s to %s: read: %w", cmd, addr, err)
		}
	}
}

// ParseMntr parses a mntr response ("key<TAB>value" lines) into a map.
func ParseMntr(resp string) (map[string]string, error) {
	if strings.Contains(resp, notServing) {
		return nil, errors.New("zkserver: mntr: server is not serving requests")
	}
	out := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(resp))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("zkserver: parse mntr: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("zkserver: mntr response has no key/value lines: %q", resp)
	}
	return out, nil
}

// ParseMode extracts the "Mode:" line of a srvr or stat response, or returns "" if there is none (the server is
// not serving yet).
func ParseMode(resp string) string {
	for l := range strings.Lines(resp) {
		if m, ok := strings.CutPrefix(strings.TrimSpace(l), "Mode:"); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}
