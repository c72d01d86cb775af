package sandbox

import "syscall"

// sysProcAttr puts the launcher in its own process group, so that a Ctrl-C in the
// terminal reaches only the Go process, which then stops the launcher in order; and
// asks Linux to end the launcher should the Go process die without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
