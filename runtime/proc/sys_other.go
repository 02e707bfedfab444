//go:build !linux

package proc

import (
	"errors"
	"syscall"
)

// sysProcAttr: a process group of its own. Only Linux has the parent-death signal.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// SetChildSubreaper is Linux only.
func SetChildSubreaper() error { return errors.New("proc: child subreaper is Linux only") }
