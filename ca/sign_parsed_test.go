package ca

import (
	"crypto"
	"crypto/x509"
	"fmt"
)

// Sign is SignDER with the new certificate parsed back, for tests that
// look at the certificate as a verifier sees it.
func (a *Authority) Sign(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	t, err := a.SignDER(tmpl, pub)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(t.Raw)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", t.Subject.CommonName, err)
	}
	return cert, nil
}
