package ca

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/testtier"
)

const testTrustDomain = "dask.acme.internal"

// fixtures caches CAs by key type and shape: RSA-4096 keys take seconds.
var fixtures struct {
	sync.Mutex
	m map[string]*Authority
}

// fixtureCA returns a shared CA (created now, trust domain
// testTrustDomain, name constraints for .dask.internal, 10.0.0.0/8 and
// fd00::/8). Tests must not modify it.
func fixtureCA(t testing.TB, kt KeyType, intermediate bool) *Authority {
	t.Helper()
	skipBigRSA(t, kt)
	fixtures.Lock()
	defer fixtures.Unlock()
	k := fmt.Sprintf("%s/%t", kt, intermediate)
	if a := fixtures.m[k]; a != nil {
		return a
	}
	a := mustNew(t, Options{
		Name: "Acme Dask CA", KeyType: kt, Intermediate: intermediate, TrustDomain: testTrustDomain,
		PermitDNS: []string{".dask.internal", "localhost"},
		PermitIP:  []*net.IPNet{mustCIDR(t, "10.0.0.0/8"), mustCIDR(t, "127.0.0.0/8"), mustCIDR(t, "fd00::/8")},
	})
	if fixtures.m == nil {
		fixtures.m = map[string]*Authority{}
	}
	fixtures.m[k] = a
	return a
}

func mustNew(t testing.TB, opts Options) *Authority {
	t.Helper()
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	return a
}

func mustCIDR(t testing.TB, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	skipBigRSA(t, kt)
	k, err := GenerateKey(kt)
	if err != nil {
		t.Fatalf("GenerateKey(%s): %v", kt, err)
	}
	return k
}

// skipBigRSA leaves RSA-3072 and RSA-4096 to the full suite: generating
// one such key takes seconds, and the quick tier covers RSA with 2048 bits.
func skipBigRSA(t testing.TB, kt KeyType) {
	t.Helper()
	if kt == RSA3072 || kt == RSA4096 {
		testtier.Full(t, "an "+string(kt)+" key (seconds to generate)")
	}
}

// leafTemplate is a daskca-like worker leaf: OU=worker, serverAuth and
// clientAuth, the given names, 90 days from now minus five minutes.
func leafTemplate(pub crypto.PublicKey, name string, dns []string, ips []string) *x509.Certificate {
	ku := x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		ku |= x509.KeyUsageKeyEncipherment
	}
	t := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name, OrganizationalUnit: []string{"worker"}, Organization: []string{"Acme Dask CA"}},
		NotBefore:   time.Now().Add(-5 * time.Minute),
		NotAfter:    time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:    ku,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    dns,
		URIs:        []*url.URL{identity.ID{TrustDomain: testTrustDomain, Role: identity.Worker, Name: name}.URI()},
	}
	for _, s := range ips {
		t.IPAddresses = append(t.IPAddresses, net.ParseIP(s))
	}
	return t
}

func mustSign(t testing.TB, a *Authority, tmpl *x509.Certificate, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	c, err := a.Sign(tmpl, pub)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return c
}

// goVerify verifies leaf against the CA with crypto/x509.
func goVerify(a *Authority, leaf *x509.Certificate) error {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(a.Root)
	for _, c := range a.Chain() {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// openssl runs /usr/bin/openssl, failing the test if it is missing.
func openssl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	testtier.Full(t, "openssl")
	const bin = "/usr/bin/openssl"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("openssl cross-checks need %s: %v", bin, err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// writeCerts writes certificates as PEM files in a temporary directory and
// returns their paths.
func writeCerts(t testing.TB, certs ...*x509.Certificate) []string {
	t.Helper()
	dir := t.TempDir()
	paths := make([]string, len(certs))
	for i, c := range certs {
		paths[i] = filepath.Join(dir, fmt.Sprintf("c%d.pem", i))
		if err := os.WriteFile(paths[i], certPEM(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}
