package store

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Enrolment tokens. The tokens bucket maps a token's id to its JSON
// encoding (TokenRecord). It is created by the first token write, so an
// inventory from before tokens opens and checks as it did. The secret of a
// token is never stored: only its SHA-256 (see TokenRecord.Hash), which is
// compared in constant time.
var bucketTokens = []byte("tokens")

// Token events in the audit log. Their Serial is empty, Role is the token's
// role and Name its id; Detail says what was decided and why. No event
// holds a token's secret.
const (
	EventTokenCreate EventKind = "token-create" // CreateToken
	EventTokenRevoke EventKind = "token-revoke" // RevokeToken
	EventRefuse      EventKind = "enrol-refuse" // an enrolment or renewal refused (Enrol)
)

// Token errors.
var (
	ErrTokenUnknown = errors.New("unknown or invalid token")
	ErrTokenExpired = errors.New("token expired")
	ErrTokenRevoked = errors.New("token revoked")
	ErrTokenUsedUp  = errors.New("token has no uses left")
)

// TokenRecord is what the inventory keeps of an enrolment token: an id, the
// SHA-256 of its secret and its scope. The zero value is not a valid token.
type TokenRecord struct {
	ID        string        `json:"id"`
	Hash      []byte        `json:"hash"` // SHA-256 of the secret
	Role      string        `json:"role"`
	Name      string        `json:"name,omitempty"`     // the one endpoint name allowed, or
	Names     string        `json:"names,omitempty"`    // a pattern of names (path.Match)
	IPRange   string        `json:"ip_range,omitempty"` // CIDR the IP SANs must lie in; "": no IPs
	Validity  time.Duration `json:"validity"`           // of the certificates issued; 0: the default
	Uses      int           `json:"uses"`
	UsesLeft  int           `json:"uses_left"`
	Created   time.Time     `json:"created"`
	Expires   time.Time     `json:"expires"`
	RevokedAt time.Time     `json:"revoked_at,omitzero"`
}

// Scope describes what the token allows, for lists and audit events.
func (t TokenRecord) Scope() string {
	s := "role=" + t.Role
	switch {
	case t.Name != "":
		s += " name=" + t.Name
	case t.Names != "":
		s += " names=" + t.Names
	}
	if t.IPRange != "" {
		s += " ip-range=" + t.IPRange
	}
	return s
}

// Usable reports why the token cannot be used at now, or nil. It does not
// check the secret (see MatchSecret).
func (t TokenRecord) Usable(now time.Time) error {
	switch {
	case !t.RevokedAt.IsZero():
		return ErrTokenRevoked
	case !now.Before(t.Expires):
		return ErrTokenExpired
	case t.UsesLeft <= 0:
		return ErrTokenUsedUp
	}
	return nil
}

// MatchSecret compares hash, the SHA-256 of a presented secret, with the
// token's in constant time.
func (t TokenRecord) MatchSecret(hash []byte) bool {
	return len(t.Hash) == len(hash) && subtle.ConstantTimeCompare(t.Hash, hash) == 1
}

func (t TokenRecord) validate() error {
	switch {
	case !validTokenID(t.ID):
		return fmt.Errorf("token id %q: %w", t.ID, ErrInvalid)
	case len(t.Hash) != 32:
		return fmt.Errorf("token %s: hash of %d bytes: %w", t.ID, len(t.Hash), ErrInvalid)
	case t.Uses <= 0 || t.UsesLeft < 0 || t.UsesLeft > t.Uses:
		return fmt.Errorf("token %s: uses %d, left %d: %w", t.ID, t.Uses, t.UsesLeft, ErrInvalid)
	}
	return validLabel("role", t.Role)
}

// validTokenID: 1 to 32 lower-case hex digits.
func validTokenID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func tokenKey(id string) []byte { return []byte(id) }

// CreateToken stores a new token with a "token-create" event. An id already
// stored fails with ErrExists.
func (s *Store) CreateToken(t TokenRecord, actor string) error {
	if err := t.validate(); err != nil {
		return fmt.Errorf("creating token: %w", err)
	}
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTokens)
		if err != nil {
			return err
		}
		if b.Get(tokenKey(t.ID)) != nil {
			return fmt.Errorf("token %s: %w", t.ID, ErrExists)
		}
		if err := putToken(b, &t); err != nil {
			return err
		}
		w, err := s.newWriter(tx)
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("%s uses=%d expires=%s", t.Scope(), t.Uses, t.Expires.UTC().Format(time.RFC3339))
		if err := w.audit.add(EventTokenCreate, &Record{Role: t.Role, Name: t.ID}, actor, detail); err != nil {
			return err
		}
		return w.finish()
	})
	if err != nil {
		return fmt.Errorf("creating token: %w", err)
	}
	return nil
}

func putToken(b *bolt.Bucket, t *TokenRecord) error {
	v, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return b.Put(tokenKey(t.ID), v)
}

func getToken(b *bolt.Bucket, id string) (TokenRecord, error) {
	var t TokenRecord
	if b == nil || !validTokenID(id) {
		return t, ErrTokenUnknown
	}
	v := b.Get(tokenKey(id))
	if v == nil {
		return t, ErrTokenUnknown
	}
	if err := json.Unmarshal(v, &t); err != nil {
		return t, fmt.Errorf("token %s: %w: %v", id, ErrCorrupt, err)
	}
	return t, nil
}

// Token returns the token with the given id; ErrTokenUnknown if there is
// none.
func (s *Store) Token(id string) (TokenRecord, error) {
	var t TokenRecord
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		t, err = getToken(tx.Bucket(bucketTokens), id)
		return err
	})
	return t, err
}

// Tokens streams every token to fn in id order.
func (s *Store) Tokens(fn func(TokenRecord) error) error {
	return s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			t, err := getToken(b, string(k))
			if err != nil {
				return err
			}
			return callback(fn, t)
		})
	})
}

// RevokeToken marks a token revoked at now with a "token-revoke" event and
// returns it. Errors: ErrTokenUnknown, ErrTokenRevoked (already revoked).
func (s *Store) RevokeToken(id, actor string) (TokenRecord, error) {
	var t TokenRecord
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if !validTokenID(id) {
			return fmt.Errorf("token id: not up to 32 lower-case hex digits: %w", ErrTokenUnknown)
		}
		var err error
		if t, err = getToken(b, id); err != nil {
			return fmt.Errorf("token %s: %w", id, err)
		}
		if !t.RevokedAt.IsZero() {
			return fmt.Errorf("token %s: %w", id, ErrTokenRevoked)
		}
		t.RevokedAt = s.now().UTC()
		if err := putToken(b, &t); err != nil {
			return err
		}
		w, err := s.newWriter(tx)
		if err != nil {
			return err
		}
		if err := w.audit.add(EventTokenRevoke, &Record{Role: t.Role, Name: t.ID}, actor, t.Scope()); err != nil {
			return err
		}
		return w.finish()
	})
	return t, err
}
