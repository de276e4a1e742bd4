package enrol

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
)

// TestWatchRenewsLive: a worker on certificates of a few seconds, renewed
// by Watch, keeps serving mutual TLS through daskca's transport, which
// reloads the renewed files by itself: every renewal is presented to new
// connections while old connections keep working.
func TestWatchRenewsLive(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for three renewals of a 6 s certificate")
	}
	f := newFixture(t, Config{}, ca.Options{})
	wtok := f.token(t, TokenSpec{Role: identity.Worker, Name: "node01", TTL: time.Hour, Validity: 6 * time.Second})
	ctok := f.token(t, TokenSpec{Role: identity.Client, Name: "alice", TTL: time.Hour, Validity: time.Hour})
	wdir, cdir := enrolDir(t, f, wtok, "node01"), enrolDirRole(t, f, ctok, "alice")

	wsec := mustSecurity(t, wdir, identity.Worker, 200*time.Millisecond)
	csec := mustSecurity(t, cdir, identity.Client, 0)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", wsec.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // echo
				defer c.Close()
				b := make([]byte, 1)
				for {
					if _, err := c.Read(b); err != nil {
						return
					}
					if _, err := c.Write(b); err != nil {
						return
					}
				}
			}()
		}
	}()
	dial := func() (*tls.Conn, string) {
		c, err := tls.Dial("tcp", ln.Addr().String(), csec.ClientConfigFor(daskconfig.Addr{Scheme: "tls", Host: "127.0.0.1"}))
		if err != nil {
			t.Fatalf("dialing the worker: %v", err)
		}
		return c, c.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
	}
	echo := func(c *tls.Conn) {
		if _, err := c.Write([]byte{7}); err != nil {
			t.Fatalf("an established connection broke: %v", err)
		}
		b := make([]byte, 1)
		if _, err := c.Read(b); err != nil || b[0] != 7 {
			t.Fatalf("an established connection broke: %v", err)
		}
	}
	first, serial := dial()
	defer first.Close()

	ctx, cancel := context.WithCancel(context.Background())
	renewed := make(chan string, 100)
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, wdir, "", func(is *Issued, err error) {
			if err != nil {
				t.Errorf("renewal: %v", err)
				return
			}
			select {
			case renewed <- is.Serial:
			default: // the test is behind: it waits for the files, not for every renewal
			}
		})
	}()
	defer func() { cancel(); <-done }()
	for i := range 3 {
		if next := <-renewed; next == serial {
			t.Fatalf("renewal %d kept serial %s", i+1, serial)
		}
		// The transport polls the files: wait until new handshakes show a
		// renewed certificate.
		for {
			c, got := dial()
			echo(c)
			c.Close()
			if got != serial {
				serial = got
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		echo(first)
	}
	if n, _ := f.store.Count(); n < 5 { // node01 at least four times, alice once
		t.Fatalf("inventory holds %d certificates, want 5 or more", n)
	}
}

func enrolDirRole(t *testing.T, f *fixture, tok, name string) string {
	t.Helper()
	is, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := WriteDir(dir, is, State{Server: f.url, Role: is.Role, Name: is.Name}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustSecurity(t *testing.T, dir string, role identity.Role, poll time.Duration) *transport.Security {
	t.Helper()
	cfg, err := daskconfig.LoadFile(filepath.Join(dir, YAMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if poll > 0 {
		cfg.Daskca.ReloadInterval = poll
	}
	sec, err := transport.NewSecurity(cfg, role, transport.SecurityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go sec.Run(ctx)
	t.Cleanup(func() { cancel(); _ = sec.Close() })
	return sec
}
