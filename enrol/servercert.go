package enrol

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/daskca/daskca/ca"
)

// serverCertLife is the lifetime of the server's own certificate. It is
// made at start-up, its key lives only in memory, and a new one is made
// when two thirds of it have passed, so it is never written anywhere or
// recorded: it is not a Dask endpoint.
const serverCertLife = 7 * 24 * time.Hour

// serverCert makes and keeps the server's TLS certificate for its names.
type serverCert struct {
	ca   *ca.Authority
	dns  []string
	ips  []net.IP
	now  func() time.Time
	mu   sync.Mutex
	cur  *tls.Certificate
	renw time.Time // when to make the next one
}

func (sc *serverCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	now := sc.now()
	if sc.cur != nil && now.Before(sc.renw) {
		return sc.cur, nil
	}
	c, err := sc.make(now)
	if err != nil {
		if sc.cur != nil {
			return sc.cur, nil
		}
		return nil, err
	}
	sc.cur = c
	sc.renw = now.Add(serverCertLife * 2 / 3)
	return c, nil
}

func (sc *serverCert) make(now time.Time) (*tls.Certificate, error) {
	key, err := ca.GenerateKey(ca.ECP256)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(serverCertLife)
	if na := sc.ca.Issuer().NotAfter; na.Before(notAfter) {
		notAfter = na
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "daskca enrolment server", OrganizationalUnit: []string{"daskca-enrol"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              sc.dns,
		IPAddresses:           sc.ips,
	}
	leaf, err := sc.ca.SignDER(tmpl, key.Public())
	if err != nil {
		return nil, fmt.Errorf("signing the server certificate: %w", err)
	}
	c := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	// The root goes last so that a client with only the root's fingerprint
	// (from its token) can find and pin it.
	for _, x := range append(sc.ca.Chain(), sc.ca.Root) {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}
