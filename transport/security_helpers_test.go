package transport

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// secCA is a throw-away CA for the security tests, built with crypto/x509
// alone so that these tests depend on nothing else in the module.
type secCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
	td   string // trust domain of the identities it issues
}

// secNow is the fixed clock of the security tests.
var secNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func secKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var secSerial = big.NewInt(1000)

func nextSerial() *big.Int { return new(big.Int).Set(secSerial.Add(secSerial, big.NewInt(1))) }

func mustSecCA(t testing.TB, td string) *secCA {
	t.Helper()
	key := secKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: td + " test CA " + nextSerial().String()},
		NotBefore:             secNow.Add(-24 * time.Hour),
		NotAfter:              secNow.Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &secCA{cert: cert, key: key, pem: pemBytes("CERTIFICATE", der), td: td}
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// leafSpec describes a leaf to issue. The zero values give a valid
// certificate of the role with the CA's trust domain and 127.0.0.1 and ::1
// as IP SANs.
type leafSpec struct {
	role      identity.Role
	name      string
	td        string // overrides the CA's trust domain
	noID      bool   // no daskca URI
	dns       []string
	ekus      []x509.ExtKeyUsage // overrides the role's usages
	notBefore time.Time
	notAfter  time.Time
	key       *ecdsa.PrivateKey // reuse a key
}

type secLeaf struct {
	cert    *x509.Certificate
	certPEM []byte
	keyPEM  []byte
	key     *ecdsa.PrivateKey
}

func (ca *secCA) issue(t testing.TB, s leafSpec) *secLeaf {
	t.Helper()
	if s.name == "" {
		s.name = string(s.role) + "-1"
	}
	if s.td == "" {
		s.td = ca.td
	}
	if s.key == nil {
		s.key = secKey(t)
	}
	if s.ekus == nil {
		s.ekus = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		if s.role.Listens() {
			s.ekus = append(s.ekus, x509.ExtKeyUsageServerAuth)
		}
	}
	if s.notBefore.IsZero() {
		s.notBefore, s.notAfter = secNow.Add(-time.Hour), secNow.Add(30*24*time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: s.name, OrganizationalUnit: []string{string(s.role)}},
		NotBefore:    s.notBefore,
		NotAfter:     s.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  s.ekus,
		DNSNames:     s.dns,
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	if !s.noID {
		tmpl.URIs = append(tmpl.URIs, identity.ID{TrustDomain: s.td, Role: s.role, Name: s.name}.URI())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, s.key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return &secLeaf{cert: cert, certPEM: pemBytes("CERTIFICATE", der), keyPEM: pemBytes("PRIVATE KEY", keyDER), key: s.key}
}

// crl returns a PEM CRL of the CA revoking serials.
func (ca *secCA) crl(t testing.TB, serials ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: secNow.Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    nextSerial(),
		ThisUpdate:                secNow.Add(-time.Hour),
		NextUpdate:                secNow.Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBytes("X509 CRL", der)
}

// mustWrite writes data to dir/name atomically (temp file and rename, as
// deployment tools do) and returns the path.
func mustWrite(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// secSetup is one CA with a certificate per role written to a directory,
// and the Config naming them.
type secSetup struct {
	dir    string
	ca     *secCA
	leaves map[identity.Role]*secLeaf
	cfg    daskconfig.Config
}

func mustSecSetup(t testing.TB, td string) *secSetup {
	t.Helper()
	s := &secSetup{dir: t.TempDir(), ca: mustSecCA(t, td), leaves: map[identity.Role]*secLeaf{}}
	s.cfg.TLS.CAFile = mustWrite(t, s.dir, "ca.pem", s.ca.pem)
	for _, r := range identity.Roles {
		s.put(t, r, s.ca.issue(t, leafSpec{role: r}))
	}
	return s
}

// put writes a role's certificate and key files and points the config at
// them.
func (s *secSetup) put(t testing.TB, r identity.Role, l *secLeaf) {
	t.Helper()
	s.leaves[r] = l
	s.cfg.TLS.SetFiles(r, daskconfig.RoleFiles{
		Cert: mustWrite(t, s.dir, string(r)+".crt", l.certPEM),
		Key:  mustWrite(t, s.dir, string(r)+".key", l.keyPEM),
	})
}

func secOpts() SecurityOptions {
	return SecurityOptions{Now: func() time.Time { return secNow }}
}

func mustSecurity(t testing.TB, cfg daskconfig.Config, r identity.Role) *Security {
	t.Helper()
	s, err := NewSecurity(cfg, r, secOpts())
	if err != nil {
		t.Fatalf("NewSecurity(%s): %v", r, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// tlsResult is what each side of one loopback connection saw.
type tlsResult struct {
	server, client error
	state          tls.ConnectionState // the client's view
}

func (r tlsResult) ok() bool { return r.server == nil && r.client == nil }

// refusedBy reports whether the listed side failed with ErrPeerRefused.
func (r tlsResult) refusedBy(side string) bool {
	if side == "server" {
		return errors.Is(r.server, ErrPeerRefused)
	}
	return errors.Is(r.client, ErrPeerRefused)
}

// mustTLSPair runs one TLS connection over loopback: the server completes
// the handshake and sends one byte, the client reads it, so that a refusal
// by either side (even after a TLS 1.3 client finished first) shows up.
func mustTLSPair(t testing.TB, network, addr string, server, client *tls.Config) tlsResult {
	t.Helper()
	ln, err := tls.Listen(network, addr, server)
	if err != nil {
		t.Fatalf("cannot listen on %s %s: %v", network, addr, err)
	}
	defer ln.Close()
	serr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			serr <- err
			return
		}
		defer c.Close()
		if err := c.(*tls.Conn).Handshake(); err != nil {
			serr <- err
			return
		}
		_, err = c.Write([]byte{1})
		serr <- err
	}()
	var res tlsResult
	c, err := tls.Dial(network, ln.Addr().String(), client)
	if err == nil {
		res.state = c.ConnectionState()
		var n int
		n, err = c.Read(make([]byte, 1))
		if n == 1 {
			err = nil // the byte may come with the close_notify's io.EOF
		}
		c.Close()
	}
	res.client = err
	res.server = <-serr
	return res
}

// writeLeaf writes l's certificate and key under new names in s's
// directory, without changing s's configuration, and returns the files.
func writeLeaf(t testing.TB, s *secSetup, l *secLeaf) daskconfig.RoleFiles {
	t.Helper()
	base := fmt.Sprintf("leaf-%s", l.cert.SerialNumber.Text(16))
	return daskconfig.RoleFiles{Cert: mustWrite(t, s.dir, base+".crt", l.certPEM), Key: mustWrite(t, s.dir, base+".key", l.keyPEM)}
}
