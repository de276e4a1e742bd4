package snippet

import (
	"fmt"
	"strings"
)

// Python renders a runnable Python snippet that builds the endpoint's
// distributed.Security object as `security` (and, for clients with a known
// scheduler, shows how to connect).
func Python(ep Endpoint, o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Dask TLS security for %s %s.\n", ep.Role, ep.Name)
	b.WriteString("import ssl\n\nimport distributed\n\nsecurity = distributed.Security(\n")
	arg := func(k, v string) { fmt.Fprintf(&b, "    %s=%s,\n", k, v) }
	arg("tls_ca_file", pyStr(ep.CAFile))
	arg("tls_"+string(ep.Role)+"_cert", pyStr(ep.CertFile))
	if ep.KeyFile != "" {
		arg("tls_"+string(ep.Role)+"_key", pyStr(ep.KeyFile))
	}
	if o.Ciphers != "" {
		arg("tls_ciphers", pyStr(o.Ciphers))
	}
	minTLS := "TLSv1_2"
	if o.MinTLS == 1.3 {
		minTLS = "TLSv1_3"
	}
	arg("tls_min_version", "ssl.TLSVersion."+minTLS)
	arg("require_encryption", "True")
	b.WriteString(")\n")
	if ep.Role == "client" && o.Scheduler != "" {
		fmt.Fprintf(&b, "\n# client = distributed.Client(%s, security=security)\n", pyStr(o.Scheduler))
	}
	return b.String()
}

// pyStr writes s as a Python string literal.
func pyStr(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\\' || r == '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
