package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"
)

// serialBits is the size of random serial numbers: 159 bits keep the DER
// INTEGER positive and within the 20 octets RFC 5280 allows, and leave
// far more than the 64 bits of entropy CA/Browser Forum rules ask for.
const serialBits = 159

// randomSerial returns a random serial number in [1, 2^159).
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), serialBits)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generating serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// SignDER issues a leaf certificate for pub from tmpl, signed by Issuer():
// the one way a leaf is signed.
//
// The caller owns the profile: subject, SANs, key usages, validity.
// SignDER works on a copy of tmpl (tmpl is not modified) and on it
//   - sets a random positive serial number of at most 20 octets,
//   - sets SubjectKeyId from pub (RFC 5280 section 4.2.1.2, method 1) and
//     AuthorityKeyId to the issuer's SubjectKeyId.
//
// It refuses, signing nothing:
//   - a CA template, or one without NotBefore or NotAfter (ErrBadTemplate);
//   - a validity that starts before or ends after the issuer's
//     (ErrOutlivesIssuer): it never cuts a lifetime short;
//   - a DNS name, IP address or URI outside the name constraints of the
//     intermediate or the root (ErrNameConstraint). A leaf without DNS
//     names is also refused when its common name looks like a host name
//     outside the DNS constraints, since OpenSSL checks it then.
//
// ErrNoKey is returned when the issuer's key is not loaded.
//
// The new certificate is not parsed back, which issuing many would pay
// for: SignDER returns the completed template as signed, with Raw set to
// the DER and the validity as encoded (whole seconds, UTC). The subject,
// SANs, serial number, key identifiers and validity of signed are those of
// the certificate; other fields that only parsing fills (PublicKey,
// Extensions, Signature, ...) are not set.
func (a *Authority) SignDER(tmpl *x509.Certificate, pub crypto.PublicKey) (signed *x509.Certificate, err error) {
	t, err := a.complete(tmpl, pub)
	if err != nil {
		return nil, err
	}
	if t.Raw, err = x509.CreateCertificate(rand.Reader, t, a.Issuer(), pub, a.issuerKey()); err != nil {
		return nil, fmt.Errorf("signing %q: %w", t.Subject.CommonName, err)
	}
	t.NotBefore = t.NotBefore.UTC().Truncate(time.Second)
	t.NotAfter = t.NotAfter.UTC().Truncate(time.Second)
	return t, nil
}

// complete checks tmpl and returns the copy of it to sign (see SignDER).
func (a *Authority) complete(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	issuer, key := a.Issuer(), a.issuerKey()
	if key == nil {
		return nil, fmt.Errorf("signing %q: issuer %q: %w", tmpl.Subject.CommonName, issuer.Subject.CommonName, ErrNoKey)
	}
	if err := checkTemplate(tmpl, pub, issuer); err != nil {
		return nil, fmt.Errorf("signing %q: %w", tmpl.Subject.CommonName, err)
	}
	if err := checkNames(tmpl, a.caChain()); err != nil {
		return nil, fmt.Errorf("signing %q: %w", tmpl.Subject.CommonName, err)
	}
	t := *tmpl
	var err error
	if t.SerialNumber, err = randomSerial(); err != nil {
		return nil, err
	}
	if t.SubjectKeyId, err = subjectKeyID(pub); err != nil {
		return nil, fmt.Errorf("signing %q: %w", t.Subject.CommonName, err)
	}
	t.AuthorityKeyId = issuer.SubjectKeyId
	return &t, nil
}

// caChain returns the CA certificates above a leaf, nearest first.
func (a *Authority) caChain() []*x509.Certificate {
	return append(a.Chain(), a.Root)
}

// checkTemplate applies SignDER's refusals that do not concern names.
func checkTemplate(tmpl *x509.Certificate, pub crypto.PublicKey, issuer *x509.Certificate) error {
	switch {
	case pub == nil:
		return fmt.Errorf("no public key: %w", ErrBadTemplate)
	case tmpl.IsCA:
		return fmt.Errorf("template is a CA certificate: %w", ErrBadTemplate)
	case tmpl.NotBefore.IsZero():
		return fmt.Errorf("template has no NotBefore: %w", ErrBadTemplate)
	case tmpl.NotAfter.IsZero():
		return fmt.Errorf("template has no NotAfter: %w", ErrBadTemplate)
	case !tmpl.NotAfter.After(tmpl.NotBefore):
		return fmt.Errorf("NotAfter %s is not after NotBefore %s: %w",
			stamp(tmpl.NotAfter), stamp(tmpl.NotBefore), ErrBadTemplate)
	case tmpl.NotAfter.After(issuer.NotAfter):
		return fmt.Errorf("NotAfter %s is after issuer %q NotAfter %s: %w",
			stamp(tmpl.NotAfter), issuer.Subject.CommonName, stamp(issuer.NotAfter), ErrOutlivesIssuer)
	case tmpl.NotBefore.Before(issuer.NotBefore):
		return fmt.Errorf("NotBefore %s is before issuer %q NotBefore %s: %w",
			stamp(tmpl.NotBefore), issuer.Subject.CommonName, stamp(issuer.NotBefore), ErrOutlivesIssuer)
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
