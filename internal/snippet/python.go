package snippet

import (
	"fmt"
	"strings"

	"github.com/daskca/daskca/transport/daskconfig"
)

// Python renders a runnable Python snippet that builds the endpoint's
// distributed.Security object as `security` (and, for clients with a known
// scheduler, shows how to connect). With the plugin, it first sets the
// role's preload keys with dask.config.set: Dask reads them when the Client
// (or Scheduler, Worker, Nanny) is created, so they must be set before.
func Python(ep Endpoint, o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Dask TLS security for %s %s.\n", ep.Role, ep.Name)
	b.WriteString("import ssl\n\n")
	if ep.Plugin != "" {
		b.WriteString("import dask\n")
	}
	b.WriteString("import distributed\n\n")
	if ep.Plugin != "" {
		fmt.Fprintf(&b, "# daskca's Dask plugin (peer roles, CRL, live reload): set before creating the %s.\n", processNoun(ep))
		b.WriteString("dask.config.set({\n")
		pre := Config(ep, o).Preload
		for _, k := range []struct {
			key  string
			list []string
		}{
			{"distributed.scheduler.preload", pre.Scheduler}, {"distributed.worker.preload", pre.Worker},
			{"distributed.nanny.preload", pre.Nanny}, {"distributed.client.preload", pre.Client},
		} {
			if len(k.list) > 0 {
				fmt.Fprintf(&b, "    %s: [%s],\n", daskconfig.PyQuote(k.key), daskconfig.PyQuote(ep.Plugin))
			}
		}
		if ep.CRLFile != "" {
			fmt.Fprintf(&b, "    'daskca.crl-file': %s,\n", daskconfig.PyQuote(ep.CRLFile))
		}
		b.WriteString("})\n\n")
	}
	b.WriteString("security = distributed.Security(\n")
	arg := func(k, v string) { fmt.Fprintf(&b, "    %s=%s,\n", k, v) }
	arg("tls_ca_file", daskconfig.PyQuote(ep.CAFile))
	arg("tls_"+string(ep.Role)+"_cert", daskconfig.PyQuote(ep.CertFile))
	if ep.KeyFile != "" {
		arg("tls_"+string(ep.Role)+"_key", daskconfig.PyQuote(ep.KeyFile))
	}
	if o.Ciphers != "" {
		arg("tls_ciphers", daskconfig.PyQuote(o.Ciphers))
	}
	minTLS := "TLSv1_2"
	if o.MinTLS == 1.3 {
		minTLS = "TLSv1_3"
	}
	arg("tls_min_version", "ssl.TLSVersion."+minTLS)
	arg("require_encryption", "True")
	b.WriteString(")\n")
	if ep.Role == "client" && o.Scheduler != "" {
		fmt.Fprintf(&b, "\n# client = distributed.Client(%s, security=security)\n", daskconfig.PyQuote(o.Scheduler))
	}
	return b.String()
}

// processNoun names what the Python form's reader creates.
func processNoun(ep Endpoint) string {
	switch ep.Role {
	case "scheduler":
		return "Scheduler"
	case "worker":
		return "Worker or Nanny"
	}
	return "Client"
}
