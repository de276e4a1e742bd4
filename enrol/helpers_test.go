package enrol

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// clock is the wall clock moved forward by what tests advance it.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// fixture is a running enrolment server on loopback with a real inventory.
type fixture struct {
	url   string
	srv   *Server
	store *store.Store
	ca    *ca.Authority
	l     home.Layout
	clock *clock
}

func newFixture(t testing.TB, cfg Config, caOpts ca.Options) *fixture {
	t.Helper()
	clk := &clock{}
	caOpts.Now = clk.now
	if caOpts.Name == "" {
		caOpts.Name = "Test CA"
	}
	if caOpts.TrustDomain == "" {
		caOpts.TrustDomain = "test-ca.daskca.internal"
	}
	a, err := ca.New(caOpts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := home.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(l.Inventory(), store.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = &issue.Issuer{CA: a, Store: s, Layout: l, Now: clk.now, Actor: "test"}
	cfg.IPs = []net.IP{net.IPv4(127, 0, 0, 1)}
	if cfg.FailureBurst == 0 {
		cfg.FailureBurst = 1000
	}
	t.Cleanup(func() { _ = s.Close() }) // after the server's (cleanups run last first)
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{url: serveOn(t, srv), srv: srv, store: s, ca: a, l: l, clock: clk}
}

// serveOn serves srv on a loopback port until the test ends, then closes
// it, and returns its URL.
func serveOn(t testing.TB, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("serve: %v", err)
		}
		_ = srv.Close()
	})
	return "https://" + ln.Addr().String()
}

func (f *fixture) token(t testing.TB, spec TokenSpec) string {
	t.Helper()
	tok, _, err := CreateToken(f.store, f.ca.Root, spec, f.clock.now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

// rawCSR makes a CSR PEM from a template, for requests the client would
// never send.
func rawCSR(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func mustKey(t testing.TB, kt ca.KeyType) crypto.Signer {
	t.Helper()
	k, err := ca.GenerateKey(kt)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func subject(name string) pkix.Name { return pkix.Name{CommonName: name} }

func newTestLogger(w io.Writer) *log.Logger { return log.New(w, "", 0) }

func issueRequest(role identity.Role, name string) issue.Request {
	return issue.Request{Role: role, Name: name, IPs: []string{"127.0.0.1"}}
}
