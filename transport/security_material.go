package transport

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// material is one consistent set of TLS inputs. It is never modified after
// load; a reload builds a new one and swaps the pointer.
type material struct {
	cert    *tls.Certificate // Leaf set; Certificate holds leaf then intermediates
	self    identity.ID      // our identity; zero under the dask policy without one
	roots   *x509.CertPool
	revoked map[string]struct{}  // revocationKey(issuer, serial)
	crls    map[string]*crlState // by issuer's raw subject; what revoked is made of
	cache   *materialCache       // session tickets, dialer sessions and verified chains of this material only
}

func (m *material) leaf() *x509.Certificate { return m.cert.Leaf }

// isInline reports whether a configured path is PEM text itself; Dask's
// rule is a newline in the value.
func isInline(s string) bool { return strings.Contains(s, "\n") }

// readSource returns the bytes of a path or inline PEM value.
func readSource(what, s string) ([]byte, error) {
	if isInline(s) {
		return []byte(s), nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrBadMaterial, what, err)
	}
	return b, nil
}

// watched returns the file paths the material of s comes from.
func (s *Security) watched() []string {
	f := s.cfg.TLS.Files(s.role)
	var out []string
	for _, p := range []string{f.Cert, f.Key, s.cfg.TLS.CAFile, s.cfg.Daskca.CRLFile} {
		if p != "" && !isInline(p) {
			out = append(out, p)
		}
	}
	return out
}

// load reads and checks all material. The stamps are taken before reading,
// so a file that changes during the read is seen as changed again later.
func (s *Security) load() (*material, stamps, error) {
	st := takeStamps(s.watched())
	files := s.cfg.TLS.Files(s.role)
	if files.Cert == "" {
		return nil, st, fmt.Errorf("%w: no certificate for role %s: set %s.%s.cert", ErrBadMaterial, s.role, daskconfig.KeyTLS, s.role)
	}
	if s.cfg.TLS.CAFile == "" {
		return nil, st, fmt.Errorf("%w: no CA bundle: set %s", ErrBadMaterial, daskconfig.KeyCAFile)
	}
	cert, err := s.loadKeyPair(files)
	if err != nil {
		return nil, st, err
	}
	caCerts, roots, err := loadCABundle(s.cfg.TLS.CAFile)
	if err != nil {
		return nil, st, err
	}
	m := &material{cert: cert, roots: roots}
	if m.cache, err = newMaterialCache(); err != nil {
		return nil, st, err
	}
	if err := s.checkOwn(m); err != nil {
		return nil, st, err
	}
	if s.cfg.Daskca.CRLFile != "" {
		issuers := append(caCerts, intermediates(cert)...)
		if m.crls, err = s.loadCRL(s.cfg.Daskca.CRLFile, issuers); err != nil {
			return nil, st, err
		}
		if prev := s.cur.Load(); prev != nil {
			s.keepNewerCRLs(prev.crls, m.crls, issuers)
		}
		m.revoked = revokedSet(m.crls)
	}
	return m, st, nil
}

func (s *Security) loadKeyPair(f daskconfig.RoleFiles) (*tls.Certificate, error) {
	certPEM, err := readSource("certificate", f.Cert)
	if err != nil {
		return nil, err
	}
	keyPEM, keyName := certPEM, f.Cert
	if f.Key != "" {
		if keyPEM, err = readSource("key", f.Key); err != nil {
			return nil, err
		}
		keyName = f.Key
		s.warnKeyMode(f.Key)
	}
	if bytes.Contains(keyPEM, []byte("ENCRYPTED PRIVATE KEY")) || bytes.Contains(keyPEM, []byte("Proc-Type: 4,ENCRYPTED")) {
		return nil, fmt.Errorf("%w: key %s is encrypted; Dask and daskca need an unencrypted key file (mode 0600)", ErrBadMaterial, shortName(keyName))
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate %s with key %s: %w", ErrBadMaterial, shortName(f.Cert), shortName(keyName), err)
	}
	return &pair, nil
}

// warnKeyMode logs a key file that others than its owner can read.
func (s *Security) warnKeyMode(path string) {
	if isInline(path) {
		return
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		s.log.Warn("private key file is readable by others; chmod 600 it", "path", path, "mode", fi.Mode().Perm().String())
	}
}

func intermediates(c *tls.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, der := range c.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			out = append(out, ic)
		}
	}
	return out
}

func loadCABundle(src string) ([]*x509.Certificate, *x509.CertPool, error) {
	b, err := readSource("CA bundle", src)
	if err != nil {
		return nil, nil, err
	}
	var certs []*x509.Certificate
	pool := x509.NewCertPool()
	for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: CA bundle %s: %w", ErrBadMaterial, shortName(src), err)
		}
		certs = append(certs, c)
		pool.AddCert(c)
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("%w: CA bundle %s holds no PEM certificate", ErrBadMaterial, shortName(src))
	}
	return certs, pool, nil
}

// checkOwn verifies our own certificate: it chains to the bundle now, with
// the extended key usages the role needs (both serverAuth and clientAuth for
// roles that listen), and under the strict policy carries our role.
func (s *Security) checkOwn(m *material) error {
	leaf := m.leaf()
	inter := x509.NewCertPool()
	for _, c := range intermediates(m.cert) {
		inter.AddCert(c)
	}
	usages := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if s.role.Listens() {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	for _, u := range usages {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: m.roots, Intermediates: inter, CurrentTime: s.now(), KeyUsages: []x509.ExtKeyUsage{u}})
		if err != nil {
			return fmt.Errorf("%w: our certificate %s is not valid for a %s: %w", ErrBadMaterial, describeCert(leaf), s.role, err)
		}
	}
	id, err := identity.FromCertificate(leaf)
	if s.cfg.Daskca.Policy() == daskconfig.PolicyDask {
		if err == nil {
			m.self = id
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: our certificate %s: %w (the strict role policy needs one; "+
			"issue it with daskca, or set daskca.role-policy: dask)", ErrBadMaterial, describeCert(leaf), err)
	}
	if id.Role != s.role {
		return fmt.Errorf("%w: our certificate is %s, not a %s certificate", ErrBadMaterial, id, s.role)
	}
	m.self = id
	return nil
}

// shortName shows a path, or "(inline PEM)" for PEM text.
func shortName(s string) string {
	if isInline(s) {
		return "(inline PEM)"
	}
	return s
}
