//go:build !unix

package daskrun

import (
	"os"
	"os/exec"
	"os/signal"
)

var terminate = os.Kill

func setProcGroup(*exec.Cmd) {}

func notifySignals() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, os.Interrupt)
	return ch, func() { signal.Stop(ch) }
}

func signalGroup(c *exec.Cmd, s os.Signal) { _ = c.Process.Signal(s) }

func exitStatus(ee *exec.ExitError) int { return ee.ExitCode() }
