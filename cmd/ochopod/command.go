package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/ochopod/ochopod/runtime/payload"
)

// command runs the sub-process given after "--" directly, in its own process group. It stands in for the
// lifecycle and executor actors (DESIGN §6), which will supervise and restart it; here its exit ends the pod.
type command struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	code int
}

func startCommand(args, environ []string, pl payload.Payload, log *slog.Logger) (*command, error) {
	info, err := pl.Marshal()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(append([]string{}, environ...), "ochopod="+string(info))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	// Own process group, so a tear-down reaches the command's children; killed with us if we are killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", args[0], err)
	}
	log.Info("command started", "pid", cmd.Process.Pid, "argv", args)
	c := &command{cmd: cmd, done: make(chan struct{})}
	go func() { // owned by the command: ends when the process does
		err := cmd.Wait()
		c.mu.Lock()
		c.code = exitCode(cmd.ProcessState, err)
		c.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// exitCode is the shell convention: the exit status, or 128 + the signal that killed the process.
func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ps = ee.ProcessState
		} else {
			return 1
		}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// exited is closed when the process ends; nil (never ready) without a command.
func (c *command) exited() <-chan struct{} {
	if c == nil {
		return nil
	}
	return c.done
}

func (c *command) exitCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

func (c *command) state() string {
	select {
	case <-c.done:
		return "dead"
	default:
		return "running"
	}
}

// terminate sends SIGTERM to the process group, and SIGKILL after grace.
func (c *command) terminate(grace time.Duration) {
	pgid := c.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-c.done
	}
}
