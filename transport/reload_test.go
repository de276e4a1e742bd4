package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
)

// echoListener accepts TLS connections and echoes what they send, until the
// test ends. Handshake errors just close the connection.
func echoListener(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func mustDial(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustEcho(t *testing.T, c *tls.Conn) {
	t.Helper()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatalf("write on established connection: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo on established connection: %q, %v", buf, err)
	}
}

func peerSerial(c *tls.Conn) *big.Int { return c.ConnectionState().PeerCertificates[0].SerialNumber }

// TestReloadLiveConnection: after a reload the established connection keeps
// working, a new handshake presents the new certificate, and broken or
// mismatched files leave the last good certificate in place.
func TestReloadLiveConnection(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	server := mustSecurity(t, s.cfg, identity.Worker)
	addr := echoListener(t, server.ServerConfig())
	client := mustSecurity(t, s.cfg, identity.Client).ClientConfig()

	old := mustDial(t, addr, client)
	mustEcho(t, old)
	if peerSerial(old).Cmp(s.leaves[identity.Worker].cert.SerialNumber) != 0 {
		t.Fatal("first handshake did not present the first certificate")
	}

	renewed := s.ca.issue(t, leafSpec{role: identity.Worker})
	s.put(t, identity.Worker, renewed)
	if err := server.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	mustEcho(t, old)
	if got := peerSerial(mustDial(t, addr, client)); got.Cmp(renewed.cert.SerialNumber) != 0 {
		t.Fatalf("new handshake saw serial %v, want %v", got, renewed.cert.SerialNumber)
	}

	other := s.ca.issue(t, leafSpec{role: identity.Worker})
	broken := map[string][]byte{
		"garbage":         []byte("not a certificate"),
		"half written":    renewed.certPEM[:len(renewed.certPEM)/2],
		"key of another":  other.certPEM, // the key file still holds renewed's key
		"empty file":      nil,
		"other CA's cert": mustSecCA(t, "td.example").issue(t, leafSpec{role: identity.Worker, key: renewed.key}).certPEM,
	}
	for name, data := range broken {
		t.Run(name, func(t *testing.T) {
			mustWrite(t, s.dir, "worker.crt", data)
			if err := server.Reload(); !errors.Is(err, ErrBadMaterial) {
				t.Fatalf("Reload = %v, want ErrBadMaterial", err)
			}
			if server.Certificate().SerialNumber.Cmp(renewed.cert.SerialNumber) != 0 {
				t.Fatal("a failed reload replaced the certificate")
			}
			if got := peerSerial(mustDial(t, addr, client)); got.Cmp(renewed.cert.SerialNumber) != 0 {
				t.Fatalf("handshake after failed reload saw serial %v", got)
			}
			mustEcho(t, old)
		})
	}
}

// TestReloadCABundle: a reloaded CA bundle is what new handshakes trust, on
// the dialing side (where Go's RootCAs would be fixed) and on the listening
// side.
func TestReloadCABundle(t *testing.T) {
	ca1 := mustSecSetup(t, "td.example")
	ca2 := mustSecCA(t, "td.example")
	rotate := func(t *testing.T, s *secSetup, role identity.Role) {
		t.Helper()
		mustWrite(t, s.dir, "ca.pem", ca2.pem)
		s.put(t, role, ca2.issue(t, leafSpec{role: role}))
	}
	t.Run("dialer", func(t *testing.T) {
		s := mustSecSetup(t, "td.example")
		s.ca = ca1.ca
		mustWrite(t, s.dir, "ca.pem", ca1.ca.pem)
		s.put(t, identity.Client, ca1.leaves[identity.Client])
		sec := mustSecurity(t, s.cfg, identity.Client)
		addr := echoListener(t, mustSecurity(t, ca1.cfg, identity.Scheduler).ServerConfig())
		mustEcho(t, mustDial(t, addr, sec.ClientConfig()))
		rotate(t, s, identity.Client)
		if err := sec.Reload(); err != nil {
			t.Fatal(err)
		}
		_, err := tls.Dial("tcp", addr, sec.ClientConfig())
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("dial after CA rotation: %v, want x509.UnknownAuthorityError", err)
		}
	})
	t.Run("listener", func(t *testing.T) {
		s := mustSecSetup(t, "td.example")
		s.ca = ca1.ca
		mustWrite(t, s.dir, "ca.pem", ca1.ca.pem)
		s.put(t, identity.Scheduler, ca1.leaves[identity.Scheduler])
		sec := mustSecurity(t, s.cfg, identity.Scheduler)
		client := mustSecurity(t, ca1.cfg, identity.Worker).ClientConfig()
		client.VerifyConnection = nil // let this dialer accept the rotated server; only the listener is tested
		res := mustTLSPair(t, "tcp", "127.0.0.1:0", sec.ServerConfig(), client)
		if !res.ok() {
			t.Fatalf("before rotation: server %v, client %v", res.server, res.client)
		}
		rotate(t, s, identity.Scheduler)
		if err := sec.Reload(); err != nil {
			t.Fatal(err)
		}
		res = mustTLSPair(t, "tcp", "127.0.0.1:0", sec.ServerConfig(), client)
		var unknown x509.UnknownAuthorityError
		if !errors.As(res.server, &unknown) {
			t.Fatalf("after rotation: server error %v, want x509.UnknownAuthorityError", res.server)
		}
	})
}

// waitReload waits for the next OnReload report; the deadline only keeps a
// broken test from hanging.
func waitReload(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(time.Minute):
		t.Fatal("no reload reported")
		return nil
	}
}

func reloadingSecurity(t *testing.T, s *secSetup) (*Security, chan error) {
	t.Helper()
	reports := make(chan error, 100)
	cfg := s.cfg
	cfg.Daskca.ReloadInterval = 5 * time.Millisecond
	opts := secOpts()
	opts.OnReload = func(err error) { reports <- err }
	sec, err := NewSecurity(cfg, identity.Worker, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sec.Close() })
	return sec, reports
}

// TestReloadRunPolls: Run notices rewritten files and reloads; Close stops
// it.
func TestReloadRunPolls(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	sec, reports := reloadingSecurity(t, s)
	stopped := make(chan struct{})
	go func() { sec.Run(context.Background()); close(stopped) }()

	renewed := s.ca.issue(t, leafSpec{role: identity.Worker})
	s.put(t, identity.Worker, renewed)
	// The certificate and the key are separate files: a poll may see one
	// without the other, fail, and succeed on the next change.
	for waitReload(t, reports) != nil {
	}
	if sec.Certificate().SerialNumber.Cmp(renewed.cert.SerialNumber) != 0 {
		t.Fatal("Run reloaded but the certificate did not change")
	}
	mustWrite(t, s.dir, "worker.crt", []byte("broken"))
	if err := waitReload(t, reports); !errors.Is(err, ErrBadMaterial) {
		t.Fatalf("broken file: report %v, want ErrBadMaterial", err)
	}
	if sec.Certificate().SerialNumber.Cmp(renewed.cert.SerialNumber) != 0 {
		t.Fatal("broken file replaced the certificate")
	}
	_ = sec.Close()
	<-stopped
}

func TestReloadDisabled(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	off := false
	s.cfg.Daskca.Reload = &off
	done := make(chan struct{})
	go func() { mustSecurity(t, s.cfg, identity.Worker).Run(context.Background()); close(done) }()
	<-done // Run returns at once; a hang here fails the test by timeout
}

// TestReloadSIGHUP: a SIGHUP reloads.
func TestReloadSIGHUP(t *testing.T) {
	s := mustSecSetup(t, "td.example")
	sec, reports := reloadingSecurity(t, s)
	// Keep SIGHUP from ending the test binary before WatchSIGHUP listens,
	// and after: a signal sent by the loop below may still be on its way
	// when the test returns, so the guard stays registered (a full channel
	// drops further signals).
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sec.WatchSIGHUP(ctx)
	renewed := s.ca.issue(t, leafSpec{role: identity.Worker})
	s.put(t, identity.Worker, renewed)
	for {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-reports:
			if err != nil {
				t.Fatalf("reload on SIGHUP: %v", err)
			}
			if sec.Certificate().SerialNumber.Cmp(renewed.cert.SerialNumber) != 0 {
				t.Fatal("SIGHUP reload kept the old certificate")
			}
			return
		case <-guard:
			// WatchSIGHUP was not listening yet; send again.
		}
	}
}

// BenchmarkSecurityHandshake measures one mutual-TLS handshake over
// loopback with the role checks, the material fetched per handshake.
func BenchmarkSecurityHandshake(b *testing.B) {
	s := mustSecSetup(b, "td.example")
	server, err := NewSecurity(s.cfg, identity.Worker, secOpts())
	if err != nil {
		b.Fatal(err)
	}
	client, err := NewSecurity(s.cfg, identity.Client, secOpts())
	if err != nil {
		b.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server.ServerConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	cfg := client.ClientConfig()
	b.ResetTimer()
	for b.Loop() {
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkReloadPoll measures one poll of unchanged files: the cost Run
// adds every interval.
func BenchmarkReloadPoll(b *testing.B) {
	s := mustSecSetup(b, "td.example")
	sec, err := NewSecurity(s.cfg, identity.Worker, secOpts())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		sec.poll()
	}
}
