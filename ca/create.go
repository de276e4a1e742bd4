package ca

import (
	"crypto"
	"crypto/fips140"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// The CA creates certificates with crypto/x509, the way
// go.step.sm/crypto/x509util.CreateCertificate and GenerateSubjectKeyID do
// (x509util_test.go checks that both give the same certificate contents):
// importing x509util links its certificate template engine (text/template
// with sprig, semver, decimal, go-jose), whose package initialisation every
// daskca process used to pay at start-up, for --help as much as for
// issuing. Keys and their encrypted PEM still come from go.step.sm/crypto
// (keyutil, pemutil).

// createCertificate signs tmpl, whose serial number and key identifiers are
// set, for pub with signer under parent (tmpl itself for a self-signed
// certificate), and returns the certificate parsed back.
func createCertificate(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("creating certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the new certificate: %w", err)
	}
	return cert, nil
}

// subjectKeyID returns the key identifier of pub as RFC 5280 section
// 4.2.1.2, method 1, defines it: the SHA-1 hash of the subjectPublicKey bit
// string. In FIPS 140-3 mode, where SHA-1 is not approved, it is the leftmost
// 160 bits of the SHA-256 hash instead (RFC 7093 section 2).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshaling public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("unmarshaling public key: %w", err)
	}
	if fips140.Enabled() {
		h := sha256.Sum256(spki.PublicKey.Bytes)
		return h[:20], nil
	}
	h := sha1.Sum(spki.PublicKey.Bytes)
	return h[:], nil
}
