// Package snippet renders what Dask needs to use one endpoint's certificate:
// a YAML config file, DASK_* environment variables, the `dask scheduler` or
// `dask worker` command line, a Python Security object and a Kubernetes
// Secret. Every form is built from one daskconfig.Config, the same type the Go
// transport loads, so the snippets and the transport cannot disagree.
package snippet

import (
	"errors"
	"fmt"
	"path"
	"strconv"

	"github.com/daskca/daskca/daskplugin"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// File names under a path prefix, shared by every form and by `export`. They
// match the keys of the Kubernetes Secret, so a mounted Secret and an
// exported directory look the same to Dask.
const (
	CAName       = "ca.pem"
	CertName     = "tls.crt"
	KeyName      = "tls.key"
	CombinedName = "tls.pem"
	// CRLName is the CRL file, read by daskca's transport as
	// daskca.crl-file (Dask itself reads no CRL).
	CRLName = "crl.pem"
	// PluginName is daskca's Dask plugin, which the preload keys point at.
	PluginName = daskplugin.FileName
)

// DefaultPort is the scheduler port Dask uses when none is given.
const DefaultPort = 8786

// ErrBadOption is wrapped by errors about snippet options.
var ErrBadOption = errors.New("invalid snippet option")

// Endpoint is one certificate's identity and where its files are on the
// host that will run it.
type Endpoint struct {
	Role     identity.Role
	Name     string
	CAFile   string
	CertFile string
	KeyFile  string // empty when CertFile also holds the key (combined)
	// CRLFile is the CRL for daskca.crl-file; empty renders no daskca key
	// (a home without a published CRL).
	CRLFile string
	// Plugin is where daskca's Dask plugin is on the host; empty renders
	// no preload (daskca config --no-plugin).
	Plugin string
}

// Options shape the rendered configuration.
type Options struct {
	Scheduler string  // scheduler address, e.g. tls://sched01:8786; "" if unknown
	MinTLS    float64 // 0, 1.2 or 1.3
	Ciphers   string  // OpenSSL cipher string for TLS 1.2, "" for Dask's default
}

// Files returns an endpoint's file paths under a prefix directory, without
// a CRL (see WithCRL).
func Files(role identity.Role, name, prefix string, combined bool) Endpoint {
	ep := Endpoint{Role: role, Name: name, CAFile: path.Join(prefix, CAName)}
	if combined {
		ep.CertFile = path.Join(prefix, CombinedName)
	} else {
		ep.CertFile, ep.KeyFile = path.Join(prefix, CertName), path.Join(prefix, KeyName)
	}
	return ep
}

// WithCRL returns ep with its CRL file at prefix/crl.pem, the place
// Bundle and K8sSecret put the CRL.
func (ep Endpoint) WithCRL(prefix string) Endpoint {
	ep.CRLFile = path.Join(prefix, CRLName)
	return ep
}

// WithPlugin returns ep with daskca's Dask plugin at prefix/daskca_plugin.py,
// the place Bundle and K8sSecret put it.
func (ep Endpoint) WithPlugin(prefix string) Endpoint {
	ep.Plugin = path.Join(prefix, PluginName)
	return ep
}

// Check validates the options: a known TLS version, ciphers Go and Dask
// accept, and a tls:// scheduler address.
func (o Options) Check() error {
	if o.MinTLS != 0 && o.MinTLS != 1.2 && o.MinTLS != 1.3 {
		return fmt.Errorf("%w: minimum TLS version %v (use 1.2 or 1.3)", ErrBadOption, o.MinTLS)
	}
	if o.Ciphers != "" {
		if _, _, err := daskconfig.ParseCiphers(o.Ciphers); err != nil {
			return fmt.Errorf("%w: %w", ErrBadOption, err)
		}
	}
	if o.Scheduler != "" {
		a, err := daskconfig.ParseAddr(o.Scheduler, "tls")
		if err != nil {
			return fmt.Errorf("%w: scheduler address: %w", ErrBadOption, err)
		}
		if a.Scheme != "tls" {
			return fmt.Errorf("%w: scheduler address %q is not tls:// (encryption is required)", ErrBadOption, o.Scheduler)
		}
	}
	return nil
}

// Config builds the Dask configuration of an endpoint: encryption required,
// tls as the default scheme, the CA bundle, the role's certificate and key,
// the minimum TLS version (1.2 unless raised), daskca's Dask plugin in the
// preload keys of the role's processes (a worker's nanny too) and, when the
// endpoint has one, the CRL under the top-level daskca key (which Dask
// itself ignores; the plugin and the Go transport read it).
func Config(ep Endpoint, o Options) daskconfig.Config {
	yes := true
	c := daskconfig.Config{RequireEncryption: &yes, DefaultScheme: "tls"}
	c.TLS.CAFile = ep.CAFile
	c.TLS.Ciphers = o.Ciphers
	c.TLS.MinVersion = o.MinTLS
	if c.TLS.MinVersion == 0 {
		c.TLS.MinVersion = 1.2
	}
	c.TLS.SetFiles(ep.Role, daskconfig.RoleFiles{Cert: ep.CertFile, Key: ep.KeyFile})
	c.Daskca.CRLFile = ep.CRLFile
	if ep.Plugin != "" {
		p := []string{ep.Plugin}
		switch ep.Role {
		case identity.Scheduler:
			c.Preload.Scheduler = p
		case identity.Worker:
			c.Preload.Worker, c.Preload.Nanny = p, p
		case identity.Client:
			c.Preload.Client = p
		}
	}
	if ep.Role != identity.Scheduler && o.Scheduler != "" {
		c.SchedulerAddress = o.Scheduler
	}
	return c
}

// YAML renders the endpoint's configuration as a Dask YAML file.
func YAML(ep Endpoint, o Options) ([]byte, error) {
	head := fmt.Sprintf("# Dask TLS configuration for %s %s.\n# Put it in ~/.config/dask/, /etc/dask/ or $DASK_CONFIG.\n", ep.Role, ep.Name)
	b, err := Config(ep, o).YAML()
	if err != nil {
		return nil, err
	}
	return append([]byte(head), b...), nil
}

// Env renders the endpoint's configuration as shell export lines.
func Env(ep Endpoint, o Options) string {
	return fmt.Sprintf("# Dask TLS configuration for %s %s.\n", ep.Role, ep.Name) + Config(ep, o).EnvShell()
}

// schedulerHostPort splits the scheduler address, defaulting the port.
func schedulerHostPort(o Options) (host string, port int, err error) {
	if o.Scheduler == "" {
		return "", 0, fmt.Errorf("%w: the scheduler address is needed (pass --scheduler tls://HOST:%d)", ErrBadOption, DefaultPort)
	}
	a, err := daskconfig.ParseAddr(o.Scheduler, "tls")
	if err != nil {
		return "", 0, err
	}
	return a.Host, a.Port, nil
}

func portString(p int) string { return strconv.Itoa(p) }
