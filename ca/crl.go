package ca

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"
)

// CRL returns a DER certificate revocation list signed by Issuer(), listing
// revoked (serials of leaves Issuer() signed). number is the CRL number,
// which must grow with every CRL the CA publishes; thisUpdate and nextUpdate
// bound the list's validity and nextUpdate must be later. The
// AuthorityKeyId of the CRL is the issuer's SubjectKeyId.
//
// Revoking the intermediate itself is not covered: that needs a CRL signed
// by the root.
func (a *Authority) CRL(revoked []x509.RevocationListEntry, number *big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	issuer, key := a.Issuer(), a.issuerKey()
	switch {
	case key == nil:
		return nil, fmt.Errorf("creating CRL: issuer %q: %w", issuer.Subject.CommonName, ErrNoKey)
	case number == nil || number.Sign() < 0:
		return nil, fmt.Errorf("creating CRL: number %v is not a non-negative integer", number)
	case !nextUpdate.After(thisUpdate):
		return nil, fmt.Errorf("creating CRL: nextUpdate %s is not after thisUpdate %s", stamp(nextUpdate), stamp(thisUpdate))
	}
	tmpl := &x509.RevocationList{
		RevokedCertificateEntries: revoked,
		Number:                    number,
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		return nil, fmt.Errorf("creating CRL: %w", err)
	}
	return der, nil
}
