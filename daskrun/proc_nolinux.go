//go:build unix && !linux

package daskrun

import "syscall"

func setParentDeath(*syscall.SysProcAttr) {}
