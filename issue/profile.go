package issue

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
)

// Backdate is how far before "now" a leaf becomes valid, so that hosts whose
// clocks run a little behind accept it at once.
const Backdate = 5 * time.Minute

// DefaultValidity is a leaf's lifetime when the request gives none: a year,
// since real Dask loads its certificates only at start-up; renewal begins when
// a third of it is left.
const DefaultValidity = 365 * 24 * time.Hour

// Template builds the x509 template of an endpoint certificate. It does not
// set the serial or key identifiers: the CA does.
func Template(id identity.ID, dns []string, ips []net.IP, kt ca.KeyType, notBefore, notAfter time.Time) *x509.Certificate {
	ku := x509.KeyUsageDigitalSignature
	if id.Role.Listens() && (kt == ca.RSA2048 || kt == ca.RSA3072 || kt == ca.RSA4096) {
		// A TLS 1.2 server with RSA key exchange decrypts with its key. A
		// client never does, and keyEncipherment beside clientAuth alone is
		// inconsistent (RFC 5280 4.2.1.12, zlint).
		ku |= x509.KeyUsageKeyEncipherment
	}
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if id.Role.Listens() {
		// Dask checks the purpose of every endpoint's certificate: schedulers
		// and workers both accept and open connections, so they need both.
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	return &x509.Certificate{
		Subject: pkix.Name{
			CommonName:         id.Name,
			OrganizationalUnit: []string{string(id.Role)},
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              ku,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
		URIs:                  []*url.URL{id.URI()},
	}
}
