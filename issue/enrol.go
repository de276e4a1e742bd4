package issue

import (
	"crypto"
	"fmt"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/store"
)

// SignPublicKey validates req and signs a certificate for a public key whose
// private half is elsewhere (an enrolling host keeps its key). It goes
// through the same template, name checks and CA as Issue, but records
// nothing and writes no file: the caller records the returned record (an
// enrolment server does so in batches, see store.Enrol) and hands the
// certificate chain to the key's holder. req.KeyType is ignored: the key
// type is pub's, which must be one of ca.KeyTypes (so RSA keys below 2048
// bits are refused).
func (is *Issuer) SignPublicKey(req Request, pub crypto.PublicKey) (store.Record, []byte, error) {
	kt := ca.KeyTypeOf(pub)
	if kt == "" {
		return store.Record{}, nil, fmt.Errorf("%w: the key is not one of %v", ErrWeakKey, ca.KeyTypes)
	}
	req.KeyType = kt
	c, err := req.check()
	if err != nil {
		return store.Record{}, nil, err
	}
	id := identity.ID{TrustDomain: is.CA.TrustDomain, Role: c.Role, Name: c.Name}
	// Only the issuer's fingerprint is taken from the CA here: the trust
	// bundle goes to the key's holder from the caller.
	cert, rec, err := is.signPublic(id, c, caFacts{issuerFP: ca.Fingerprint(is.CA.Issuer())}, pub)
	if err != nil {
		return store.Record{}, nil, err
	}
	return rec, ChainPEM(cert, is.CA.Chain()), nil
}
