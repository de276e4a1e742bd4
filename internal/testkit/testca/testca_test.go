package testca

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/fataltest"
	"github.com/daskca/daskca/internal/testkit/testtier"
)

func TestIssueDefaults(t *testing.T) {
	ca := New(t)
	tests := []struct {
		role identity.Role
		eku  []x509.ExtKeyUsage
	}{
		{identity.Scheduler, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{identity.Worker, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{identity.Client, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			certPEM, keyPEM := ca.Issue(t, tt.role, "alpha")
			if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
				t.Fatalf("key does not match certificate: %v", err)
			}
			cert := mustParse(t, certPEM)
			id, err := identity.FromCertificate(cert)
			if err != nil {
				t.Fatal(err)
			}
			if want := ca.Identity(tt.role, "alpha"); id != want {
				t.Errorf("identity = %v, want %v", id, want)
			}
			if got := cert.Subject.OrganizationalUnit; !slices.Equal(got, []string{string(tt.role)}) {
				t.Errorf("OU = %q, want [%q]", got, tt.role)
			}
			if !slices.Equal(cert.ExtKeyUsage, tt.eku) {
				t.Errorf("EKU = %v, want %v", cert.ExtKeyUsage, tt.eku)
			}
			if !slices.Equal(cert.DNSNames, []string{"localhost"}) {
				t.Errorf("DNS = %q", cert.DNSNames)
			}
			if len(cert.IPAddresses) != 2 || !cert.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) ||
				!cert.IPAddresses[1].Equal(net.IPv6loopback) {
				t.Errorf("IPs = %v", cert.IPAddresses)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: tt.eku}); err != nil {
				t.Errorf("verify: %v", err)
			}
			if !slices.Equal(cert.AuthorityKeyId, ca.Cert.SubjectKeyId) || len(cert.AuthorityKeyId) == 0 {
				t.Errorf("authority key id %x does not name the CA's %x", cert.AuthorityKeyId, ca.Cert.SubjectKeyId)
			}
		})
	}
}

func TestIssueOptions(t *testing.T) {
	ca := New(t, WithTrustDomain("example.org"))
	past := time.Now().Add(-48 * time.Hour)
	tests := []struct {
		name  string
		opts  []Option
		check func(t *testing.T, cert *x509.Certificate, keyPEM []byte)
	}{
		{"no EKU", []Option{WithEKU()}, func(t *testing.T, cert *x509.Certificate, _ []byte) {
			if len(cert.ExtKeyUsage) != 0 || len(cert.UnknownExtKeyUsage) != 0 {
				t.Errorf("EKU = %v, want none", cert.ExtKeyUsage)
			}
		}},
		{"server only", []Option{WithEKU(x509.ExtKeyUsageServerAuth)}, func(t *testing.T, cert *x509.Certificate, _ []byte) {
			_, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			var inv x509.CertificateInvalidError
			if !errors.As(err, &inv) || inv.Reason != x509.IncompatibleUsage {
				t.Errorf("verify as client = %v, want incompatible usage", err)
			}
		}},
		{"expired", []Option{WithValidity(past, past.Add(time.Hour))}, func(t *testing.T, cert *x509.Certificate, _ []byte) {
			_, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			var inv x509.CertificateInvalidError
			if !errors.As(err, &inv) || inv.Reason != x509.Expired {
				t.Errorf("verify = %v, want expired", err)
			}
		}},
		{"no identity", []Option{WithoutIdentity()}, func(t *testing.T, cert *x509.Certificate, _ []byte) {
			if _, err := identity.FromCertificate(cert); !errors.Is(err, identity.ErrNoIdentity) {
				t.Errorf("FromCertificate = %v, want ErrNoIdentity", err)
			}
		}},
		{"own SANs", []Option{WithSANs([]string{"sched.example.org"}, nil), WithCommonName("cn")}, func(t *testing.T, cert *x509.Certificate, _ []byte) {
			if !slices.Equal(cert.DNSNames, []string{"sched.example.org"}) || len(cert.IPAddresses) != 0 || cert.Subject.CommonName != "cn" {
				t.Errorf("DNS %q IPs %v CN %q", cert.DNSNames, cert.IPAddresses, cert.Subject.CommonName)
			}
			if got := cert.URIs[0].String(); got != "spiffe://example.org/dask/scheduler/s" {
				t.Errorf("URI = %s", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM := ca.Issue(t, identity.Scheduler, "s", tt.opts...)
			tt.check(t, mustParse(t, certPEM), keyPEM)
		})
	}
}

func TestKeyTypesAndEncodings(t *testing.T) {
	ca := New(t, WithKeyType(P384))
	tests := []struct {
		key      KeyType
		encoding KeyEncoding
		pemType  string
	}{
		{P256, PKCS8, "PRIVATE KEY"},
		{P256, SEC1, "EC PRIVATE KEY"},
		{P384, SEC1, "EC PRIVATE KEY"},
		{Ed25519, PKCS8, "PRIVATE KEY"},
		{RSA2048, PKCS8, "PRIVATE KEY"},
		{RSA2048, PKCS1, "RSA PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.key.String()+"/"+tt.pemType, func(t *testing.T) {
			certPEM, keyPEM := ca.Issue(t, identity.Worker, "w", WithKeyType(tt.key), WithKeyEncoding(tt.encoding))
			if block, _ := pem.Decode(keyPEM); block == nil || block.Type != tt.pemType {
				t.Fatalf("key PEM type = %v, want %q", block, tt.pemType)
			}
			if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
				t.Fatalf("key pair: %v", err)
			}
		})
	}
}

func TestImpossibleEncodingFails(t *testing.T) {
	ca := New(t)
	tests := []struct {
		name string
		opts []Option
	}{
		{"SEC1 for RSA", []Option{WithKeyType(RSA2048), WithKeyEncoding(SEC1)}},
		{"PKCS1 for Ed25519", []Option{WithKeyType(Ed25519), WithKeyEncoding(PKCS1)}},
		{"unknown role", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			role := identity.Client
			if tt.opts == nil {
				role = "admin"
			}
			msg := fataltest.Must(t, func(tb testing.TB) { ca.Issue(tb, role, "c", tt.opts...) })
			if !strings.HasPrefix(msg, "testca: ") {
				t.Errorf("fatal message %q lacks the package prefix", msg)
			}
		})
	}
}

func TestOtherCAIsNotTrusted(t *testing.T) {
	ca, other := New(t), New(t)
	cert := mustParse(t, first(other.Issue(t, identity.Client, "mallory")))
	_, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("verify against the wrong CA = %v, want unknown authority", err)
	}
}

func TestWriteFiles(t *testing.T) {
	ca := New(t)
	dir := t.TempDir()
	certFile, keyFile, caFile := ca.WriteFiles(t, dir, identity.Worker, "w1")
	for file, want := range map[string]os.FileMode{certFile: 0o644, keyFile: 0o600, caFile: 0o644} {
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", file, fi.Mode().Perm(), want)
		}
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, caFile); string(got) != string(ca.CertPEM) {
		t.Error("ca.pem does not hold the CA certificate")
	}
	// A second leaf in the same directory keeps the first and rewrites ca.pem.
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	_, keyFile2, _ := ca.WriteFiles(t, dir, identity.Worker, "w1")
	if fi, _ := os.Stat(keyFile2); fi.Mode().Perm() != 0o600 {
		t.Errorf("rewritten key mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestOpenSSLAgrees checks with OpenSSL's strict verifier that the chain is
// what Python 3.13's TLS stack accepts and that the purposes are right.
func TestOpenSSLAgrees(t *testing.T) {
	testtier.Full(t, "openssl")
	const openssl = "/usr/bin/openssl"
	if _, err := os.Stat(openssl); err != nil {
		t.Fatalf("openssl is needed to cross-check certificates: apt-get install -y openssl (%v)", err)
	}
	ca := New(t)
	dir := t.TempDir()
	tests := []struct {
		role    identity.Role
		purpose string
		opts    []Option
		ok      bool
	}{
		{identity.Scheduler, "sslserver", nil, true},
		{identity.Scheduler, "sslclient", nil, true},
		{identity.Client, "sslclient", nil, true},
		{identity.Client, "sslserver", nil, false},
		{identity.Worker, "sslclient", []Option{WithEKU(x509.ExtKeyUsageServerAuth)}, false},
		{identity.Worker, "sslserver", []Option{WithKeyType(Ed25519)}, true},
		{identity.Worker, "sslserver", []Option{WithKeyType(RSA2048)}, true},
	}
	for i, tt := range tests {
		t.Run(string(tt.role)+"/"+tt.purpose, func(t *testing.T) {
			certFile, _, caFile := ca.WriteFiles(t, dir, tt.role, "n"+string(rune('a'+i)), tt.opts...)
			out, err := exec.Command(openssl, "verify", "-x509_strict", "-purpose", tt.purpose, "-CAfile", caFile, certFile).CombinedOutput()
			if ok := err == nil; ok != tt.ok {
				t.Errorf("openssl verify ok=%v, want %v: %s", ok, tt.ok, out)
			}
		})
	}
}

func mustParse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", certPEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func first(a, _ []byte) []byte { return a }
