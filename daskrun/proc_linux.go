package daskrun

import "syscall"

// setParentDeath makes the kernel send SIGTERM to Dask if this process
// dies without forwarding a signal (SIGKILL), so no cluster process is
// orphaned.
func setParentDeath(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }
