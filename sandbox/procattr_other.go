//go:build !linux

package sandbox

import "syscall"

// sysProcAttr: elsewhere the launcher keeps the Go process's group; Stop ends it.
func sysProcAttr() *syscall.SysProcAttr { return nil }
