package snippet

import (
	"fmt"
	"net"
	"strings"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// CLI renders the `dask scheduler` or `dask worker` command line of a
// scheduler or worker endpoint. Dask has no flags for the TLS version or
// ciphers, so those, when set, are given as DASK_* variables before the
// command. daskca's plugin reaches the scheduler or worker the same way, as
// DASK_DISTRIBUTED__{SCHEDULER,WORKER}__PRELOAD, not as --preload: dask
// scheduler and dask worker import a --preload module while parsing the
// command line, before any Dask object exists, where the plugin cannot hook
// anything and stops the process. The nanny gets it with --preload-nanny
// (imported only by the Nanny): `dask worker` never reads
// distributed.nanny.preload from the configuration. Clients have no command
// line: use Python.
func CLI(ep Endpoint, o Options) (string, error) {
	if ep.Role == identity.Client {
		return "", fmt.Errorf("%w: a client has no dask command line; use the python form", ErrBadOption)
	}
	host, port, err := schedulerHostPort(o)
	if err != nil {
		return "", err
	}
	var words []string
	note := ""
	if ep.Plugin != "" && ep.Role == identity.Worker {
		note = "# dask worker ignores distributed.nanny.preload from config: --preload-nanny loads daskca's plugin into the nanny.\n"
	}
	for _, v := range append(envOnlyVars(ep, o), preloadVars(ep)...) {
		words = append(words, v.Name+"="+daskconfig.ShellQuote(v.Value))
	}
	if ep.Role == identity.Scheduler {
		words = append(words, "dask", "scheduler", "--host", quote("tls://"+bracket(host)), "--port", portString(port))
	} else {
		words = append(words, "dask", "worker", quote("tls://"+net.JoinHostPort(host, portString(port))), "--name", quote(ep.Name))
	}
	words = append(words, "--tls-ca-file", quote(ep.CAFile), "--tls-cert", quote(ep.CertFile))
	if ep.KeyFile != "" {
		words = append(words, "--tls-key", quote(ep.KeyFile))
	}
	if ep.Plugin != "" && ep.Role == identity.Worker {
		words = append(words, "--preload-nanny", quote(ep.Plugin))
	}
	return note + strings.Join(words, " ") + "\n", nil
}

// preloadVars are the variables that load daskca's plugin into the
// scheduler or worker.
func preloadVars(ep Endpoint) []daskconfig.EnvVar {
	if ep.Plugin == "" {
		return nil
	}
	var c daskconfig.Config
	if ep.Role == identity.Scheduler {
		c.Preload.Scheduler = []string{ep.Plugin}
	} else {
		c.Preload.Worker = []string{ep.Plugin}
	}
	return c.Env()
}

// envOnlyVars are the settings the dask command line cannot express.
func envOnlyVars(ep Endpoint, o Options) []daskconfig.EnvVar {
	var c daskconfig.Config
	c.TLS.Ciphers = o.Ciphers
	if o.MinTLS != 0 && o.MinTLS != 1.2 {
		c.TLS.MinVersion = o.MinTLS
	}
	return c.Env()
}

// quote shell-quotes s unless it is made only of characters no shell treats
// specially.
func quote(s string) string {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-:=@+,", c)) {
			return daskconfig.ShellQuote(s)
		}
	}
	return s
}

func bracket(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}
