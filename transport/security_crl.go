package transport

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// loadCRL reads one or more CRLs (PEM "X509 CRL" blocks, or one DER CRL),
// checks that each is signed by one of issuers (the CA bundle and our own
// intermediates), and returns the revoked serials keyed by issuer. A CRL past
// its NextUpdate is still used, with a warning: refusing every peer because a
// CRL was not refreshed would take the cluster down.
func (s *Security) loadCRL(src string, issuers []*x509.Certificate) (map[string]struct{}, error) {
	b, err := readSource("CRL", src)
	if err != nil {
		return nil, err
	}
	var ders [][]byte
	for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == "X509 CRL" {
			ders = append(ders, block.Bytes)
		}
	}
	if len(ders) == 0 {
		ders = [][]byte{b} // DER
	}
	revoked := map[string]struct{}{}
	for _, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("%w: CRL %s: %w", ErrBadMaterial, shortName(src), err)
		}
		if err := checkCRLSignature(crl, issuers); err != nil {
			return nil, fmt.Errorf("%w: CRL %s: %w", ErrBadMaterial, shortName(src), err)
		}
		if !crl.NextUpdate.IsZero() && s.now().After(crl.NextUpdate) {
			s.log.Warn("CRL is past its next update; publish a fresh one", "path", shortName(src), "next_update", crl.NextUpdate)
		}
		for _, e := range crl.RevokedCertificateEntries {
			revoked[revocationKey(crl.RawIssuer, e.SerialNumber.String())] = struct{}{}
		}
	}
	return revoked, nil
}

func checkCRLSignature(crl *x509.RevocationList, issuers []*x509.Certificate) error {
	named := false
	for _, c := range issuers {
		if !bytes.Equal(c.RawSubject, crl.RawIssuer) {
			continue
		}
		named = true
		if crl.CheckSignatureFrom(c) == nil {
			return nil
		}
	}
	if named {
		return fmt.Errorf("signature of the CRL issued by %q does not verify against the CA bundle", crl.Issuer)
	}
	return fmt.Errorf("issuer %q is not in the CA bundle", crl.Issuer)
}
