package main

import "syscall"

// setParentDeath makes the kernel send SIGTERM to Dask if daskca dies
// without forwarding a signal (SIGKILL), so no cluster process is orphaned.
func setParentDeath(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }
