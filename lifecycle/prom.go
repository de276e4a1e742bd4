package lifecycle

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// WriteProm writes h as Prometheus text exposition for node-exporter's
// textfile collector: per-endpoint expiry gauges labelled by role, name and
// serial, counts by role and state, CA and CRL expiry, and the overall
// level. Times are Unix seconds.
func WriteProm(w io.Writer, h Health) error {
	p := &promWriter{w: w}
	p.help("daskca_cert_not_after_seconds", "NotAfter of the current certificate of each endpoint.")
	for _, e := range h.Endpoints {
		p.sample("daskca_cert_not_after_seconds", endpointLabels(e), unix(e.NotAfter))
	}
	p.help("daskca_cert_not_before_seconds", "NotBefore of the current certificate of each endpoint.")
	for _, e := range h.Endpoints {
		p.sample("daskca_cert_not_before_seconds", endpointLabels(e), unix(e.NotBefore))
	}
	p.help("daskca_cert_renew_at_seconds", "When the current certificate of each endpoint enters its renewal window (a short-lived enrolled one: when daskca enroll --watch renews it).")
	for _, e := range h.Endpoints {
		p.sample("daskca_cert_renew_at_seconds", endpointLabels(e), unix(e.RenewAt))
	}
	p.help("daskca_cert_level", "Status of each endpoint: 0 ok or retired, 1 inside the renewal window or overdue for renewal by its host, 2 expired or revoked in use.")
	for _, e := range h.Endpoints {
		p.sample("daskca_cert_level", append(endpointLabels(e), "state", string(e.State)), int64(e.Level))
	}
	p.help("daskca_certs", "Endpoints by role and state.")
	counts := h.Counts()
	for _, role := range sortedKeys(counts) {
		for _, st := range sortedKeys(counts[role]) {
			p.sample("daskca_certs", []string{"role", role, "state", string(st)}, int64(counts[role][st]))
		}
	}
	p.help("daskca_ca_not_after_seconds", "NotAfter of each CA certificate in use.")
	for _, c := range h.CAs {
		p.sample("daskca_ca_not_after_seconds", []string{"kind", c.Kind, "subject", c.Subject, "fingerprint", c.Fingerprint[:16]}, unix(c.NotAfter))
	}
	p.help("daskca_crl_next_update_seconds", "NextUpdate of each CRL in the home's crl.pem.")
	for _, c := range h.CRLs {
		p.sample("daskca_crl_next_update_seconds", []string{"issuer", c.Issuer}, unix(c.NextUpdate))
	}
	p.help("daskca_ca_rotation_in_progress", "1 while a CA rotation is under way.")
	p.sample("daskca_ca_rotation_in_progress", []string{"phase", string(h.Rotation.Phase)}, b2i(h.Rotation.Phase != PhaseNone))
	p.help("daskca_status", "Overall status, as daskca status exits: 0 ok, 1 warning, 2 critical.")
	p.sample("daskca_status", nil, int64(h.Level))
	p.help("daskca_status_timestamp_seconds", "When this status was taken.")
	p.sample("daskca_status_timestamp_seconds", nil, unix(h.Now))
	return p.err
}

type promWriter struct {
	w   io.Writer
	err error
}

func (p *promWriter) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *promWriter) help(name, help string) {
	p.printf("# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
}

// sample writes one line; labels are name, value pairs.
func (p *promWriter) sample(name string, labels []string, v int64) {
	var b strings.Builder
	for i := 0; i+1 < len(labels); i += 2 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=\"%s\"", labels[i], escapeLabel(labels[i+1]))
	}
	if b.Len() > 0 {
		p.printf("%s{%s} %d\n", name, b.String(), v)
		return
	}
	p.printf("%s %d\n", name, v)
}

func endpointLabels(e Endpoint) []string {
	return []string{"role", e.Role, "name", e.Name, "serial", e.Serial}
}

// escapeLabel escapes a label value as the text format requires.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func unix(t time.Time) int64 { return t.Unix() }

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
