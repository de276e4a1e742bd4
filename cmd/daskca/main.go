// Command daskca is an organisation CA for Dask clusters: it issues and tracks
// the certificates that Dask's schedulers, workers and clients use for mutual
// TLS, and emits the configuration Dask needs to use them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, newRootCmd(defaultEnv()), os.Args[1:])
	stop()
	os.Exit(code)
}
