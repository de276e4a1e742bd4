package transport

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
)

// crlState is the CRL of one issuer that a material uses: its number (the
// CRL number extension; zero when absent) and the revocation keys it lists.
type crlState struct {
	issuer string   // the issuer's name, for logs
	number *big.Int // never nil
	keys   []string // revocationKey(issuer, serial) of every entry
}

// loadCRL reads one or more CRLs (PEM "X509 CRL" blocks, or one DER CRL),
// checks that each is signed by one of issuers (the CA bundle and our own
// intermediates), and returns them by issuer (its raw subject); of several
// CRLs of one issuer the highest number counts. A CRL past its NextUpdate
// is still used, with a warning: refusing every peer because a CRL was not
// refreshed would take the cluster down.
func (s *Security) loadCRL(src string, issuers []*x509.Certificate) (map[string]*crlState, error) {
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
	out := map[string]*crlState{}
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
		st := &crlState{issuer: crl.Issuer.String(), number: new(big.Int)}
		if crl.Number != nil {
			st.number.Set(crl.Number)
		}
		for _, e := range crl.RevokedCertificateEntries {
			st.keys = append(st.keys, revocationKey(crl.RawIssuer, e.SerialNumber.String()))
		}
		if prev, ok := out[string(crl.RawIssuer)]; !ok || st.number.Cmp(prev.number) > 0 {
			out[string(crl.RawIssuer)] = st
		}
	}
	return out, nil
}

// keepNewerCRLs makes sure a reload never goes back in revocation: a CRL
// whose number is lower than the one loaded for its issuer (an old file
// copied back by a restore or by configuration management) is refused and
// the loaded one kept, and a loaded issuer's CRL missing from the new file
// is kept while that issuer is still trusted. It logs each refusal.
func (s *Security) keepNewerCRLs(prev, next map[string]*crlState, issuers []*x509.Certificate) {
	for raw, old := range prev {
		cur, ok := next[raw]
		switch {
		case ok && cur.number.Cmp(old.number) < 0:
			s.log.Error("refusing a CRL older than the one loaded; keeping the newer one",
				"issuer", old.issuer, "loaded_number", old.number, "refused_number", cur.number,
				"path", shortName(s.cfg.Daskca.CRLFile))
			next[raw] = old
		case !ok && slices.ContainsFunc(issuers, func(c *x509.Certificate) bool { return string(c.RawSubject) == raw }):
			s.log.Error("the CRL file lost the CRL of a trusted issuer; keeping the loaded one",
				"issuer", old.issuer, "loaded_number", old.number, "path", shortName(s.cfg.Daskca.CRLFile))
			next[raw] = old
		}
	}
}

// revokedSet is the set of revocation keys of crls.
func revokedSet(crls map[string]*crlState) map[string]struct{} {
	out := map[string]struct{}{}
	for _, st := range crls {
		for _, k := range st.keys {
			out[k] = struct{}{}
		}
	}
	return out
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
