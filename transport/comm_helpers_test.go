package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// testPKI is a throw-away CA with one leaf for both ends, made per test run.
type testPKI struct {
	server, client *tls.Config
}

// mustTestPKI returns mutual-TLS configs for 127.0.0.1 signed by a fresh CA.
func mustTestPKI(t testing.TB) testPKI {
	t.Helper()
	caKey := mustKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wire test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey := mustKey(t)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "wire test endpoint"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cert := tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
	return testPKI{
		server: &tls.Config{
			Certificates: []tls.Certificate{cert}, ClientCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
		},
		client: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
	}
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mustServe starts s on a free loopback port of the given scheme.
func mustServe(t testing.TB, scheme string, tlsCfg *tls.Config, s *wire.Server, opts ListenOptions) *Listener {
	t.Helper()
	l, err := Serve(context.Background(), scheme+"://127.0.0.1:0", tlsCfg, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// mustConnect dials addr and closes the comm when the test ends.
func mustConnect(t testing.TB, addr string, tlsCfg *tls.Config) *wire.Comm {
	t.Helper()
	c, err := Connect(context.Background(), addr, tlsCfg, wire.CommOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// mustConnectTLS connects to a tls:// address like Connect and returns the
// comm with its TLS connection, on which a test writes raw bytes.
func mustConnectTLS(t testing.TB, addr string, tlsCfg *tls.Config) (*wire.Comm, *tls.Conn) {
	t.Helper()
	a, err := daskconfig.ParseAddr(addr, daskconfig.SchemeTLS)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tlsCfg.Clone()
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		cfg.ServerName = a.Host
	}
	tc, err := tls.Dial("tcp", a.HostPort(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := wire.NewComm(tc, wire.CommOptions{})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, tc
}

// echoServer answers "echo" with its arguments, "fail" with an error and
// "identity" with a fixed map.
func echoServer() *wire.Server {
	return &wire.Server{Handlers: map[string]wire.HandlerFunc{
		"echo": func(_ context.Context, _ *wire.Comm, args map[string]any) (any, error) { return args, nil },
		"fail": func(context.Context, *wire.Comm, map[string]any) (any, error) {
			return nil, errTest
		},
		"identity": func(context.Context, *wire.Comm, map[string]any) (any, error) {
			return map[string]any{"type": "Test", "id": "Test-1"}, nil
		},
	}}
}

type testError string

func (e testError) Error() string { return string(e) }

const errTest = testError("handler failed on purpose")
