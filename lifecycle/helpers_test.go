package lifecycle

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/internal/testkit/testtier"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

const day = 24 * time.Hour

// fixture is a real home: a CA saved encrypted, a bbolt inventory, and a
// scheduler, two workers and a client issued for 90 days, on a pinned clock.
type fixture struct {
	t   *testing.T
	now time.Time
	m   *Manager
}

func newFixture(t *testing.T, intermediate bool) *fixture {
	t.Helper()
	f := &fixture{t: t, now: t0}
	clock := func() time.Time { return f.now }
	l, err := home.New(filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	testtier.QuickKeys(t, l.Dir)
	pw := []byte("correct-horse-battery")
	a, err := ca.New(ca.Options{Name: "Test CA", TrustDomain: "test.dask", Intermediate: intermediate, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Save(l.CADir(), pw); err != nil {
		t.Fatal(err)
	}
	if err := fsutil.WriteFile(l.Bundle(), a.BundlePEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(l.Inventory(), store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f.m = &Manager{Layout: l, Store: s, Password: pw, Now: clock, Actor: "test"}
	if err := f.m.reloadCA(); err != nil {
		t.Fatal(err)
	}
	is := &issue.Issuer{CA: f.m.CA, Store: s, Layout: l, Now: clock, Actor: "test"}
	for _, r := range []issue.Request{
		{Role: identity.Scheduler, Name: "s1", DNS: []string{"s1.test.dask"}, IPs: []string{"10.0.0.1"}, Validity: 90 * day},
		{Role: identity.Worker, Name: "w1", DNS: []string{"w1.test.dask"}, Validity: 90 * day},
		{Role: identity.Worker, Name: "w2", IPs: []string{"10.0.0.2", "fd00::2"}, Validity: 90 * day},
		{Role: identity.Client, Name: "c1", Validity: 90 * day, KeyType: ca.Ed25519},
	} {
		if _, err := is.Issue(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) active(role, name string) store.Record {
	f.t.Helper()
	r, ok, err := f.m.Store.Active(role, name)
	if err != nil || !ok {
		f.t.Fatalf("no active %s/%s: %v", role, name, err)
	}
	return r
}

func (f *fixture) count() int {
	f.t.Helper()
	n, err := f.m.Store.Count()
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// certs reads every PEM certificate of a file.
func certs(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// verify checks the chain in certFile against the roots in bundleFile, as a
// Dask endpoint would, at the fixture's time.
func (f *fixture) verify(certFile, bundleFile string) error {
	f.t.Helper()
	chain := certs(f.t, certFile)
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range certs(f.t, bundleFile) {
		roots.AddCert(c)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: f.now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	testtier.Full(t, "openssl")
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed: apt-get install -y openssl")
	}
	out, err := exec.Command("openssl", args...).CombinedOutput()
	return string(out), err
}
