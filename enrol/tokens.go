package enrol

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"path"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// DefaultTokenTTL is how long a token can be used when TokenSpec.TTL is
// zero: long enough for a batch job to start, short enough that a leaked
// token is soon worthless.
const DefaultTokenTTL = 15 * time.Minute

// ErrTokenSpec is wrapped by errors about a token's scope as asked for.
var ErrTokenSpec = errors.New("invalid token scope")

// TokenSpec is the scope of a new token.
type TokenSpec struct {
	Role     identity.Role
	Name     string        // the one endpoint name allowed, or
	Names    string        // a pattern (path.Match: *, ?, [a-z]); neither: any name
	IPRange  string        // CIDR for IP SANs; "": none allowed
	TTL      time.Duration // how long the token can be used; zero: DefaultTokenTTL
	Uses     int           // enrolments it pays for; zero: 1
	Validity time.Duration // lifetime of the certificates; zero: issue.DefaultValidity
}

// CreateToken makes a token of spec for the CA whose root is root and
// records its hash and scope in s. The returned Token is the only copy of
// its secret.
func CreateToken(s *store.Store, root *x509.Certificate, spec TokenSpec, now time.Time, actor string) (Token, store.TokenRecord, error) {
	rec, err := spec.record(now)
	if err != nil {
		return Token{}, rec, err
	}
	tok, err := NewToken(sha256.Sum256(root.Raw))
	if err != nil {
		return Token{}, rec, err
	}
	rec.ID, rec.Hash = tok.ID, tok.Hash()
	if err := s.CreateToken(rec, actor); err != nil {
		return Token{}, rec, err
	}
	return tok, rec, nil
}

func (spec TokenSpec) record(now time.Time) (store.TokenRecord, error) {
	var r store.TokenRecord
	if _, err := identity.ParseRole(string(spec.Role)); err != nil {
		return r, err
	}
	switch {
	case spec.Name != "" && spec.Names != "":
		return r, fmt.Errorf("%w: give a name or a pattern of names, not both", ErrTokenSpec)
	case spec.Name != "":
		if err := issue.ValidateName(spec.Name); err != nil {
			return r, err
		}
	case spec.Names != "":
		if _, err := path.Match(spec.Names, "x"); err != nil {
			return r, fmt.Errorf("%w: pattern %q: %v", ErrTokenSpec, spec.Names, err)
		}
	}
	if spec.IPRange != "" {
		_, n, err := net.ParseCIDR(spec.IPRange)
		if err != nil {
			return r, fmt.Errorf("%w: ip range %q is not a CIDR prefix such as 10.0.0.0/16", ErrTokenSpec, spec.IPRange)
		}
		spec.IPRange = n.String()
	}
	if spec.TTL < 0 || spec.Uses < 0 || spec.Validity < 0 {
		return r, fmt.Errorf("%w: negative ttl, uses or validity", ErrTokenSpec)
	}
	if spec.TTL == 0 {
		spec.TTL = DefaultTokenTTL
	}
	if spec.Uses == 0 {
		spec.Uses = 1
	}
	return store.TokenRecord{
		Role: string(spec.Role), Name: spec.Name, Names: spec.Names, IPRange: spec.IPRange,
		Validity: spec.Validity, Uses: spec.Uses, UsesLeft: spec.Uses,
		Created: now.UTC(), Expires: now.Add(spec.TTL).UTC(),
	}, nil
}
