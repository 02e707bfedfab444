package proc

import (
	"errors"
	"syscall"
)

// LackOfResources tells a spawn that failed for want of resources, which a later try may have (DESIGN §12):
// too many open files (EMFILE, ENFILE), an argument list or environment too long (E2BIG), no memory or no
// process left (ENOMEM, EAGAIN).
func LackOfResources(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.E2BIG, syscall.ENOMEM, syscall.EAGAIN} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}
