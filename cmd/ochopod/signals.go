package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ochopod/ochopod/runtime/pod"
)

// forwarded are the signals `ochopod run` passes on to the process's group and survives (DESIGN §13), as tini
// and dumb-init do: a reload (SIGHUP), the program's own (SIGUSR1, SIGUSR2), a stack dump (SIGQUIT).
var forwarded = []os.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGQUIT} //nolint:gochecknoglobals // a constant list

// forwardSignals passes the signals of forwarded on to p's process until the returned function is called.
// SIGTERM and SIGINT end the pod (main's context); a second one while it tears down sends SIGKILL to the
// process's group, skipping the grace period. The goroutine it starts ends with the returned function.
func forwardSignals(p *pod.Pod, log *slog.Logger) (stop func()) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, append([]os.Signal{syscall.SIGTERM, syscall.SIGINT}, forwarded...)...)
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		terms := 0
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				s, _ := sig.(syscall.Signal)
				switch s {
				case syscall.SIGTERM, syscall.SIGINT:
					if terms++; terms > 1 {
						log.Warn("second signal: killing the process now, without waiting for the grace period", "signal", s.String())
						p.Signal(syscall.SIGKILL)
					}
				default:
					p.Signal(s)
				}
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
		<-ended
	}
}
