package snippet

import (
	"fmt"
	"strings"

	"github.com/daskca/daskca/transport"
)

// Python renders a runnable Python snippet that builds the endpoint's
// distributed.Security object as `security` (and, for clients with a known
// scheduler, shows how to connect).
func Python(ep Endpoint, o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Dask TLS security for %s %s.\n", ep.Role, ep.Name)
	b.WriteString("import ssl\n\nimport distributed\n\nsecurity = distributed.Security(\n")
	arg := func(k, v string) { fmt.Fprintf(&b, "    %s=%s,\n", k, v) }
	arg("tls_ca_file", transport.PyQuote(ep.CAFile))
	arg("tls_"+string(ep.Role)+"_cert", transport.PyQuote(ep.CertFile))
	if ep.KeyFile != "" {
		arg("tls_"+string(ep.Role)+"_key", transport.PyQuote(ep.KeyFile))
	}
	if o.Ciphers != "" {
		arg("tls_ciphers", transport.PyQuote(o.Ciphers))
	}
	minTLS := "TLSv1_2"
	if o.MinTLS == 1.3 {
		minTLS = "TLSv1_3"
	}
	arg("tls_min_version", "ssl.TLSVersion."+minTLS)
	arg("require_encryption", "True")
	b.WriteString(")\n")
	if ep.Role == "client" && o.Scheduler != "" {
		fmt.Fprintf(&b, "\n# client = distributed.Client(%s, security=security)\n", transport.PyQuote(o.Scheduler))
	}
	return b.String()
}
