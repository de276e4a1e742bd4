package homefiles

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// Authorities are the CA certificates of one home, by SHA-256 fingerprint:
// the roots and intermediates of the CA in use, of a CA in rotation
// (ca-next, ca-previous) and of retired CAs. Each was loaded with
// ca.LoadPublic, which checks that a root is self-signed and an
// intermediate signed by its root.
type Authorities map[string]*x509.Certificate

// LoadAuthorities reads the CA certificates of every CA directory of l.
// The CA in use must load; the others are read when present.
func LoadAuthorities(l home.Layout) (Authorities, error) {
	out := Authorities{}
	a, err := ca.LoadPublic(l.CADir())
	if err != nil {
		return nil, err
	}
	out.add(a)
	dirs := []string{l.CANextDir(), l.CAPreviousDir()}
	retired, err := filepath.Glob(filepath.Join(filepath.Dir(l.CARetiredDir("x")), "*"))
	if err != nil {
		return nil, err
	}
	for _, d := range append(dirs, retired...) {
		if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		a, err := ca.LoadPublic(d)
		if err != nil {
			return nil, err
		}
		out.add(a)
	}
	return out, nil
}

func (as Authorities) add(a *ca.Authority) {
	for _, c := range append([]*x509.Certificate{a.Root, a.Intermediate}, a.Overlap...) {
		if c != nil {
			as[ca.Fingerprint(c)] = c
		}
	}
}

// Verify parses the certificate of rec and checks that it is the one the
// record describes (serial and fingerprint) and that the CA certificate the
// record names as its issuer is one of as and signed it. Errors wrap
// ErrForeign.
func (as Authorities) Verify(rec store.Record) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, fmt.Errorf("certificate %s does not parse: %v: %w", rec.Serial, err, ErrForeign)
	}
	switch {
	case cert.SerialNumber.Text(16) != rec.Serial:
		return nil, fmt.Errorf("record %s holds a certificate with serial %s: %w", rec.Serial, cert.SerialNumber.Text(16), ErrForeign)
	case ca.Fingerprint(cert) != rec.FingerprintSHA256:
		return nil, fmt.Errorf("certificate %s does not have the recorded fingerprint: %w", rec.Serial, ErrForeign)
	}
	issuer := as[rec.Issuer]
	if issuer == nil {
		issuer = as.find(cert)
	}
	if issuer == nil {
		return nil, fmt.Errorf("certificate %s (%s/%s) was issued by %q, not by a CA of this home: %w",
			rec.Serial, rec.Role, rec.Name, cert.Issuer.String(), ErrForeign)
	}
	if err := cert.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("certificate %s (%s/%s): signature of %q does not verify: %v: %w",
			rec.Serial, rec.Role, rec.Name, issuer.Subject.String(), err, ErrForeign)
	}
	return cert, nil
}

// find returns the CA certificate whose subject and key match cert's
// issuer, for a record that names no issuer.
func (as Authorities) find(cert *x509.Certificate) *x509.Certificate {
	for _, c := range as {
		if bytes.Equal(c.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}
