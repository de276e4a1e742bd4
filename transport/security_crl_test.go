package transport

import (
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
)

// crlNumbered returns a PEM CRL of ca with the given CRL number.
func (ca *secCA) crlNumbered(t testing.TB, number int64, serials ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: secNow.Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(number), ThisUpdate: secNow.Add(-time.Hour), NextUpdate: secNow.Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBytes("X509 CRL", der)
}

// TestReloadRefusesOlderCRL: an endpoint that loaded CRL number n, which
// revokes a client, keeps refusing that client after CRL n-1 (which does
// not list it) is copied over the file, logs why, and still takes the
// certificate renewed in the same reload; a later CRL (n+1) is taken.
func TestReloadRefusesOlderCRL(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	revoked := s.leaves[identity.Client].cert.SerialNumber
	cfg := s.cfg
	cfg.Daskca.CRLFile = mustWrite(t, s.dir, "ca.crl", s.ca.crlNumbered(t, 10, revoked))
	var log logBuffer
	opts := secOpts()
	opts.Logger = log.logger()
	worker, err := NewSecurity(cfg, identity.Worker, opts)
	if err != nil {
		t.Fatal(err)
	}
	client := mustSecurity(t, s.cfg, identity.Client)
	connects := func() bool {
		return mustTLSPair(t, "tcp", "127.0.0.1:0", worker.ServerConfig(), client.ClientConfig()).ok()
	}
	if connects() {
		t.Fatal("the revoked client connected under CRL 10")
	}

	// CRL 9 copied back, together with a renewed worker certificate.
	mustWrite(t, s.dir, "ca.crl", s.ca.crlNumbered(t, 9))
	s.put(t, identity.Worker, s.ca.issue(t, leafSpec{role: identity.Worker}))
	if err := worker.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if connects() {
		t.Error("the revoked client connected after CRL 9 replaced CRL 10")
	}
	if !log.has("refusing a CRL older than the one loaded", "loaded_number=10", "refused_number=9") {
		t.Errorf("no log of the refused CRL:\n%s", log.String())
	}
	if got, want := worker.Certificate().SerialNumber, s.leaves[identity.Worker].cert.SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("the renewed certificate was not taken with the stale CRL")
	}

	// A newer CRL that no longer lists the client is the CA's decision.
	mustWrite(t, s.dir, "ca.crl", s.ca.crlNumbered(t, 11))
	if err := worker.Reload(); err != nil {
		t.Fatal(err)
	}
	if !connects() {
		t.Error("CRL 11 was not taken")
	}
}

// TestReloadKeepsCRLOfTrustedIssuer: with two CAs in the bundle, a CRL
// file that loses the first CA's CRL does not un-revoke its certificates.
func TestReloadKeepsCRLOfTrustedIssuer(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	other := mustSecCA(t, "td.example")
	cfg := s.cfg
	cfg.TLS.CAFile = mustWrite(t, s.dir, "bundle.pem", append(append([]byte{}, s.ca.pem...), other.pem...))
	revoked := s.leaves[identity.Client].cert.SerialNumber
	cfg.Daskca.CRLFile = mustWrite(t, s.dir, "ca.crl", append(s.ca.crlNumbered(t, 5, revoked), other.crlNumbered(t, 1)...))
	var log logBuffer
	opts := secOpts()
	opts.Logger = log.logger()
	worker, err := NewSecurity(cfg, identity.Worker, opts)
	if err != nil {
		t.Fatal(err)
	}
	client := mustSecurity(t, s.cfg, identity.Client)
	mustWrite(t, s.dir, "ca.crl", other.crlNumbered(t, 2))
	if err := worker.Reload(); err != nil {
		t.Fatal(err)
	}
	if mustTLSPair(t, "tcp", "127.0.0.1:0", worker.ServerConfig(), client.ClientConfig()).ok() {
		t.Error("the revoked client connected once its issuer's CRL left the file")
	}
	if !log.has("lost the CRL of a trusted issuer") {
		t.Errorf("no log:\n%s", log.String())
	}
}
