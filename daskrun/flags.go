package daskrun

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
)

// Dask's command-line modules, run as python -m MODULE.
const (
	schedulerModule = "distributed.cli.dask_scheduler"
	workerModule    = "distributed.cli.dask_worker"
)

// defaultSchedulerListen is where a scheduler listens without
// Options.Listen: every interface, Dask's port.
const defaultSchedulerListen = "tls://:8786"

// daskFlags returns Dask's module for the role and daskca's flags for it.
// sec gives a worker its default name, the one in its certificate.
func daskFlags(cfg daskconfig.Config, sec *transport.Security, opts Options) (mod string, flags []string, err error) {
	if opts.Role == identity.Scheduler {
		flags, err = schedulerListen(cfg, opts.Listen)
		return schedulerModule, flags, err
	}
	name := opts.Name
	if name == "" {
		if id, err := identity.FromCertificate(sec.Certificate()); err == nil {
			name = id.Name
		}
	}
	flags, err = workerFlags(cfg, opts.Scheduler, opts.Listen, name, opts.NThreads)
	return workerModule, flags, err
}

// schedulerListen turns the listen address into dask scheduler's --host
// and --port (--protocol alone for every interface).
func schedulerListen(cfg daskconfig.Config, listen string) ([]string, error) {
	if listen == "" {
		listen = defaultSchedulerListen
	}
	a, err := listenAddr(cfg, listen)
	if err != nil {
		return nil, err
	}
	port := []string{"--port", strconv.Itoa(a.Port)}
	if a.Host == "" { // every interface
		return append([]string{"--protocol", a.Scheme}, port...), nil
	}
	return append([]string{"--host", a.Scheme + "://" + bracketHost(a.Host)}, port...), nil
}

// listenAddr parses a listen address, which must be tls://.
func listenAddr(cfg daskconfig.Config, s string) (daskconfig.Addr, error) {
	a, err := cfg.ParseAddr(s)
	if err != nil {
		return a, &PreflightError{Check: CheckListen, Value: s, Err: err}
	}
	if !a.Encrypted() {
		return a, &PreflightError{Check: CheckListen, Value: s, Err: ErrNotTLS}
	}
	return a, nil
}

// workerFlags gives dask worker its scheduler, name, threads and listen
// address.
func workerFlags(cfg daskconfig.Config, sched, listen, name string, nthreads int) ([]string, error) {
	a, err := cfg.ParseAddr(sched)
	if err != nil {
		return nil, &PreflightError{Check: CheckScheduler, Value: sched, Err: err}
	}
	if !a.Encrypted() {
		return nil, &PreflightError{Check: CheckScheduler, Value: sched, Err: ErrNotTLS}
	}
	flags := []string{a.String()}
	if name != "" {
		flags = append(flags, "--name", name)
	}
	if nthreads > 0 {
		flags = append(flags, "--nthreads", strconv.Itoa(nthreads))
	}
	if listen != "" {
		l, err := listenAddr(cfg, listen)
		if err != nil {
			return nil, err
		}
		// Not --listen-address: with port 0 Dask would announce port 0 as
		// the worker's contact address.
		flags = append(flags, "--host", bracketHost(l.Host))
		if l.Port != 0 {
			flags = append(flags, "--worker-port", strconv.Itoa(l.Port))
		}
	}
	return flags, nil
}

// bracketHost writes an IPv6 address in brackets, as Dask's addresses do.
func bracketHost(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// refusePreloadArgs refuses --preload among the arguments for Dask: it
// would replace the preload list that loads daskca's plugin.
func refusePreloadArgs(role identity.Role, daskArgs []string) error {
	for _, a := range daskArgs {
		if a == "--preload" || strings.HasPrefix(a, "--preload=") {
			return &PreflightError{Check: CheckDaskArgs, Value: a, Err: fmt.Errorf(
				"dask's --preload replaces distributed.%s.preload, which loads daskca's plugin; "+
					"add the module to that list in the configuration instead", role)}
		}
	}
	return nil
}
