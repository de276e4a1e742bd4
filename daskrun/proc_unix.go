//go:build unix

package daskrun

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// terminate is the signal that asks Dask to shut down cleanly.
var terminate os.Signal = syscall.SIGTERM

// setProcGroup starts the child in a process group of its own, so that a
// terminal's ^C reaches it once, through us, and so that signals reach the
// processes it starts (the nanny's worker).
func setProcGroup(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeath(c.SysProcAttr)
}

// notifySignals catches the signals Wait forwards to Dask.
func notifySignals() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

// signalGroup sends s to the child's process group.
func signalGroup(c *exec.Cmd, s os.Signal) {
	if sig, ok := s.(syscall.Signal); ok {
		_ = syscall.Kill(-c.Process.Pid, sig)
		return
	}
	_ = c.Process.Signal(s)
}

// exitStatus is the child's exit code, or 128+N when signal N ended it.
func exitStatus(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
