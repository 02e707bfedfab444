//go:build linux

package proc

import (
	"fmt"
	"syscall"
)

// sysProcAttr: a process group of its own (Signal reaches the children), and SIGKILL when Ochopod dies.
//
// The parent-death signal is tied to the thread that forked; Go threads only end when a goroutine locked to
// one exits, which this package never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

const prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER, linux/prctl.h

// SetChildSubreaper makes this process the reaper of its orphaned descendants (prctl PR_SET_CHILD_SUBREAPER),
// as PID 1 is: a grandchild whose parent exits is re-parented to us, and the Reaper reaps it. Call it once,
// before starting processes; it applies to the whole process.
func SetChildSubreaper() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fmt.Errorf("proc: prctl(PR_SET_CHILD_SUBREAPER): %w", errno)
	}
	return nil
}
