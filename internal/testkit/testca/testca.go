package testca

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/daskca/daskca/identity"
)

// DefaultTrustDomain is the trust domain of a CA made without
// WithTrustDomain. The .invalid TLD can never clash with a real one.
const DefaultTrustDomain = "test.daskca.invalid"

// CA is a root certificate authority living only for one test. Its fields
// are read-only after New; a CA is safe for concurrent use.
type CA struct {
	// Cert is the self-signed root certificate.
	Cert *x509.Certificate
	// CertPEM is Cert in PEM form, the content of a Dask tls.ca-file.
	CertPEM []byte
	// Key is the root's private key.
	Key crypto.Signer
	// TrustDomain is the trust domain written into leaf identities.
	TrustDomain string
}

// New makes a fresh root CA. It honours WithKeyType, WithValidity,
// WithCommonName and WithTrustDomain.
func New(t testing.TB, opts ...Option) *CA {
	t.Helper()
	c := newConfig(opts)
	if c.commonName == "" {
		c.commonName = "daskca test CA"
	}
	if c.trustDomain == "" {
		c.trustDomain = DefaultTrustDomain
	}
	key := newKey(t, c.keyType)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{Organization: []string{"daskca tests"}, CommonName: c.commonName},
		NotBefore:             c.notBefore,
		NotAfter:              c.notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	// With IsCA set, CreateCertificate derives the subject key identifier
	// that leaves then carry as their authority key identifier.
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("testca: creating CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testca: parsing CA certificate: %v", err)
	}
	return &CA{Cert: cert, CertPEM: certPEM(der), Key: key, TrustDomain: c.trustDomain}
}

// Identity returns the daskca identity a leaf for role and name carries.
func (ca *CA) Identity(role identity.Role, name string) identity.ID {
	return identity.ID{TrustDomain: ca.TrustDomain, Role: role, Name: name}
}

// Pool returns a fresh pool holding only the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue signs a leaf for the endpoint name playing role and returns the
// certificate and its private key in PEM. Without options the leaf looks
// like one daskca issues: SPIFFE URI SAN, OU=role, CN=name, EKU serverAuth
// and clientAuth for schedulers and workers and clientAuth for clients, DNS
// localhost and IPs 127.0.0.1 and ::1, a P-256 key in PKCS#8.
func (ca *CA) Issue(t testing.TB, role identity.Role, name string, opts ...Option) (certPEMBytes, keyPEM []byte) {
	t.Helper()
	c := newConfig(opts)
	key := newKey(t, c.keyType)
	der, err := x509.CreateCertificate(rand.Reader, ca.leafTemplate(t, role, name, c, key), ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatalf("testca: issuing %s/%s: %v", role, name, err)
	}
	return certPEM(der), encodeKey(t, key, c.encoding)
}

func (ca *CA) leafTemplate(t testing.TB, role identity.Role, name string, c config, key crypto.Signer) *x509.Certificate {
	t.Helper()
	if _, err := identity.ParseRole(string(role)); err != nil {
		t.Fatalf("testca: issuing %s/%s: %v", role, name, err)
	}
	cn := c.commonName
	if cn == "" {
		cn = name
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{OrganizationalUnit: []string{string(role)}, CommonName: cn},
		NotBefore:             c.notBefore,
		NotAfter:              c.notAfter,
		KeyUsage:              leafKeyUsage(key),
		ExtKeyUsage:           roleEKU(role),
		BasicConstraintsValid: true,
		DNSNames:              c.dns,
		IPAddresses:           c.ips,
	}
	if c.ekuSet {
		tmpl.ExtKeyUsage = c.eku
	}
	if !c.noIdentity {
		tmpl.URIs = []*url.URL{ca.Identity(role, name).URI()}
	}
	return tmpl
}

// roleEKU is the extended key usage daskca gives a role: endpoints that
// listen need serverAuth, and every endpoint dials, so needs clientAuth.
func roleEKU(role identity.Role) []x509.ExtKeyUsage {
	if role.Listens() {
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
}

// TLSCertificate issues a leaf like Issue and returns it ready for a
// tls.Config, with the parsed leaf set.
func (ca *CA) TLSCertificate(t testing.TB, role identity.Role, name string, opts ...Option) tls.Certificate {
	t.Helper()
	certPEMBytes, keyPEM := ca.Issue(t, role, name, opts...)
	cert, err := tls.X509KeyPair(certPEMBytes, keyPEM)
	if err != nil {
		t.Fatalf("testca: loading %s/%s key pair: %v", role, name, err)
	}
	return cert
}

// WriteFiles issues a leaf like Issue and writes it into dir as
// <role>-<name>.pem and <role>-<name>-key.pem (mode 0600), next to the CA
// certificate ca.pem. It returns the three paths.
func (ca *CA) WriteFiles(t testing.TB, dir string, role identity.Role, name string, opts ...Option) (certFile, keyFile, caFile string) {
	t.Helper()
	certPEMBytes, keyPEM := ca.Issue(t, role, name, opts...)
	base := filepath.Join(dir, string(role)+"-"+name)
	certFile, keyFile, caFile = base+".pem", base+"-key.pem", filepath.Join(dir, "ca.pem")
	writeFile(t, certFile, certPEMBytes, 0o644)
	writeFile(t, keyFile, keyPEM, 0o600)
	writeFile(t, caFile, ca.CertPEM, 0o644)
	return certFile, keyFile, caFile
}

// writeFile writes data with exactly mode perm, whatever the umask and
// whatever mode an existing file had, setting the mode before any data lands.
func writeFile(t testing.TB, path string, data []byte, perm os.FileMode) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		t.Fatalf("testca: %v", err)
	}
	defer f.Close()
	if err := f.Chmod(perm); err != nil {
		t.Fatalf("testca: %v", err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatalf("testca: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("testca: %v", err)
	}
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// serial returns a random positive 127-bit serial number.
func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("testca: serial number: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}
