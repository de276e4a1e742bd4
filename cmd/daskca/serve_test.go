package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/lifecycle"
	"github.com/daskca/daskca/store"
)

// signalWriter collects what is written to it and closes hit once the
// text holds want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	hit  chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.hit) })
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestServeRotationWhileStarting: a rotation step committed while daskca
// serve starts (here while it waits for the inventory this test holds) does
// not leave the server signing with the CA of before the step: what it
// hands out is the CA the home has after the step.
func TestServeRotationWhileStarting(t *testing.T) {
	tests := []struct {
		name  string
		issue bool // also ca rotate issue: the new CA signs
	}{
		{"begin", false},
		{"begin and issue", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, pw := newHome(t, "Window CA")
			l, err := home.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			st, err := store.Open(l.Inventory(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			addr := "127.0.0.1:" + freePort(t)
			stderr := &signalWriter{want: "waiting up to", hit: make(chan struct{})}
			done := serveInProcess(t, dir, stderr, "serve", "--wait", "5m", "--listen", addr, "--ip", "127.0.0.1", "--password-file", pw)
			select {
			case <-stderr.hit:
			case <-done:
				t.Fatalf("daskca serve stopped: %s", stderr.String())
			}
			// The rotation step lands while serve waits.
			a, err := ca.Load(l.CADir(), []byte(testPassword))
			if err != nil {
				t.Fatal(err)
			}
			m := &lifecycle.Manager{Layout: l, Store: st, CA: a, Password: []byte(testPassword), Actor: "test"}
			if _, err := m.Begin(lifecycle.BeginOptions{}); err != nil {
				t.Fatal(err)
			}
			if tc.issue {
				if _, _, err := m.Reissue(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			waitListening(t, addr, done, stderr)
			tok := strings.TrimSpace(mustCLI(t, dir, "token", "create", "worker", "--name", "node01"))
			node := filepath.Join(t.TempDir(), "node01")
			if code, _, errs := runCLI(t, "", nil, "enroll", "--server", "https://"+addr, "--token", tok, "--name", "node01", "--dir", node); code != 0 {
				t.Fatalf("enroll: exit %d: %s\nserve: %s", code, errs, stderr.String())
			}
			cur, err := ca.LoadPublic(l.CADir())
			if err != nil {
				t.Fatal(err)
			}
			if got := mustRead(t, filepath.Join(node, "ca.pem")); got != string(cur.BundlePEM()) {
				t.Errorf("ca.pem is not the home's trust bundle after the step:\n%s\nwant\n%s", got, cur.BundlePEM())
			}
			signer := cur.Root
			if cur.Intermediate != nil {
				signer = cur.Intermediate
			}
			b, _ := pem.Decode([]byte(mustRead(t, filepath.Join(node, "cert.pem"))))
			if b == nil {
				t.Fatal("cert.pem holds no PEM block")
			}
			leaf, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if err := leaf.CheckSignatureFrom(signer); err != nil {
				t.Errorf("the certificate is not signed by the CA that signs after the step (%s): %v", signer.Subject, err)
			}
		})
	}
}

// serveInProcess runs daskca with args (a serve) in-process with home as
// DASKCA_HOME and stderr as its stderr until the test ends; done closes
// when it returns.
func serveInProcess(t *testing.T, dir string, stderr *signalWriter, args ...string) (done chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() {
		defer close(done)
		e := env{getenv: func(k string) string {
			if k == "DASKCA_HOME" {
				return dir
			}
			return ""
		}, now: time.Now, actor: "test"}
		root := newRootCmd(e)
		root.SetOut(&bytes.Buffer{})
		root.SetErr(stderr)
		run(ctx, root, args)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return done
}

// waitListening returns once addr accepts connections, failing the test if
// the server stops first.
func waitListening(t *testing.T, addr string, done chan struct{}, stderr *signalWriter) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("daskca serve stopped: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daskca serve does not listen on %s: %s", addr, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServeHandsOutTheCurrentCRL: a revocation published while daskca
// serve runs (daskca revoke renames a new crl.pem into place) is in the
// CRL of its next answer, and a crl.pem that is a symbolic link is not
// followed: the enrolment is refused, in one line naming the fix, and the
// node gets no files.
func TestServeHandsOutTheCurrentCRL(t *testing.T) {
	dir, pw := newHome(t, "CRL CA")
	l, err := home.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustCLI(t, dir, "issue", "worker", "w1", "--password-file", pw)
	mustCLI(t, dir, "issue", "worker", "w2", "--password-file", pw)
	serials := map[string]*big.Int{}
	for _, name := range []string{"w1", "w2"} {
		serials[name] = leafSerial(t, mustRead(t, l.Endpoint("worker", name).Cert))
	}
	server := startServe(t, dir, pw)
	tok := strings.TrimSpace(mustCLI(t, dir, "token", "create", "worker", "--names", "node*", "--uses", "10"))
	revoke := func(name string) func(t *testing.T) {
		return func(t *testing.T) { mustCLI(t, dir, "revoke", name, "--password-file", pw) }
	}
	tests := []struct {
		name    string
		change  func(t *testing.T)
		revoked []string // serials the answer's CRL lists; nil: no crl.pem
	}{
		{"w1 revoked", revoke("w1"), []string{"w1"}},
		{"unchanged", func(*testing.T) {}, []string{"w1"}},
		{"w2 revoked too", revoke("w2"), []string{"w1", "w2"}},
		{"crl.pem a link", func(t *testing.T) {
			other := filepath.Join(t.TempDir(), "crl.pem")
			if err := os.Rename(l.CRL(), other); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, l.CRL()); err != nil {
				t.Fatal(err)
			}
		}, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.change(t)
			node := filepath.Join(t.TempDir(), "node")
			args := []string{"enroll", "--server", server, "--token", tok, "--name", fmt.Sprintf("node%02d", i+1), "--dir", node}
			if tc.revoked == nil {
				code, _, stderr := runCLI(t, "", nil, args...)
				if code == 0 || !strings.Contains(stderr, "cannot read the CA's CRL") || !strings.Contains(stderr, "daskca crl") {
					t.Fatalf("enroll with crl.pem a link: exit %d:\n%s", code, stderr)
				}
				if _, err := os.Stat(node); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("the node got files (%v)", err)
				}
				return
			}
			mustCLI(t, "", args...)
			data, err := os.ReadFile(filepath.Join(node, "crl.pem"))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
				c, err := x509.ParseRevocationList(b.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range c.RevokedCertificateEntries {
					got[e.SerialNumber.String()] = true
				}
			}
			if len(got) != len(tc.revoked) {
				t.Errorf("the CRL lists %d serials, want %d", len(got), len(tc.revoked))
			}
			for _, name := range tc.revoked {
				if !got[serials[name].String()] {
					t.Errorf("the CRL does not list %s", name)
				}
			}
		})
	}
}

func leafSerial(t *testing.T, pemData string) *big.Int {
	t.Helper()
	return leafCert(t, pemData).SerialNumber
}
