package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Enrolment is one certificate an enrolment server signed, to be recorded
// by Enrol. Exactly one of TokenID and Renews is set.
type Enrolment struct {
	Record  Record
	TokenID string // the token that pays for it: one use is consumed
	Renews  string // the serial of the certificate that asked for its own renewal
	Client  string // the client's address, for the audit log
}

// Refusal is a refused enrolment or renewal, for the audit log. It must not
// hold a token's secret.
type Refusal struct {
	Role, Name, TokenID, Serial, Client, Reason string
}

// ErrGuard is wrapped by the refusal of each enrolment of a batch whose
// Guard no longer holds (see EnrolGuarded).
var ErrGuard = errors.New("the inventory changed since the enrolment server started")

// Guard is a meta value (see Meta) as a caller found it when it loaded what
// it signs with, for instance the CA rotation state: EnrolGuarded records
// no enrolment while the value differs. Want nil means the key was absent.
type Guard struct {
	Key  string
	Want []byte
}

// Enrol is EnrolGuarded without a guard.
func (s *Store) Enrol(items []Enrolment, refusals []Refusal, actor string) (errs []error, err error) {
	return s.EnrolGuarded(nil, items, refusals, actor)
}

// EnrolGuarded records the certificates of an enrolment server and the
// refusals it decided, in one transaction (a group commit: many concurrent
// requests share one write and its fsync). Each enrolment is decided inside the
// transaction, on its own: a token must still be usable (one use is
// consumed), a renewed certificate must still be active and unexpired. An
// enrolment that passes is recorded like Apply records a certificate, with
// an "issue" event, superseding the active certificate of its role and name
// (for a renewal, the certificate renewed); one that fails gets an
// "enrol-refuse" event and its error in errs. The returned error is for the
// transaction as a whole: then nothing at all was recorded. With a guard g
// whose value no longer holds, every enrolment is refused with ErrGuard
// (and its refusal audited) and no token use is consumed: a server whose
// CA has been rotated away records nothing it signed.
func (s *Store) EnrolGuarded(g *Guard, items []Enrolment, refusals []Refusal, actor string) (errs []error, err error) {
	now := s.now()
	for i := range items {
		r := &items[i].Record
		if r.Status == "" {
			r.Status = Active
		}
		if r.IssuedAt.IsZero() {
			r.IssuedAt = now
		}
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("enrolling %s/%s: %w", r.Role, r.Name, err)
		}
	}
	err = s.update(func(tx *bolt.Tx) error {
		errs = make([]error, len(items))
		tokens, err := tx.CreateBucketIfNotExists(bucketTokens)
		if err != nil {
			return err
		}
		w, err := s.newWriter(tx)
		if err != nil {
			return err
		}
		var stale error
		if g != nil {
			k, err := metaKey(g.Key)
			if err != nil {
				return err
			}
			if v := tx.Bucket(bucketKV).Get(k); !bytes.Equal(v, g.Want) || (v == nil) != (g.Want == nil) {
				stale = fmt.Errorf("meta %q: %w", g.Key, ErrGuard)
			}
		}
		for i := range items {
			it := &items[i]
			replace, err := "", stale
			if err == nil {
				replace, err = w.admit(tx, tokens, it, now)
			}
			if err != nil {
				errs[i] = err
				ref := Refusal{Role: it.Record.Role, Name: it.Record.Name, TokenID: it.TokenID,
					Serial: it.Renews, Client: it.Client, Reason: err.Error()}
				if err := w.refusal(&ref, actor); err != nil {
					return err
				}
				continue
			}
			if err := w.enrol(it, replace, actor); err != nil {
				return err
			}
		}
		for i := range refusals {
			if err := w.refusal(&refusals[i], actor); err != nil {
				return err
			}
		}
		return w.finish()
	})
	if err != nil {
		return nil, fmt.Errorf("recording %d enrolments: %w", len(items), err)
	}
	return errs, nil
}

// admit decides one enrolment inside the transaction and consumes its
// token's use; it returns the serial the new certificate replaces.
func (w *writer) admit(tx *bolt.Tx, tokens *bolt.Bucket, it *Enrolment, now time.Time) (string, error) {
	if it.Renews != "" {
		old, _, err := w.get(it.Renews)
		switch {
		case err != nil:
			return "", err
		case old.Status == Revoked:
			return "", fmt.Errorf("certificate %s: %w", old.Serial, ErrAlreadyRevoked)
		case old.SupersededBy != "" || old.Status != Active:
			return "", fmt.Errorf("certificate %s was replaced by %s: %w", old.Serial, old.SupersededBy, ErrSuperseded)
		case !now.Before(old.NotAfter):
			return "", fmt.Errorf("certificate %s expired at %s: %w", old.Serial, old.NotAfter.UTC().Format(time.RFC3339), ErrInvalid)
		case old.Role != it.Record.Role || old.Name != it.Record.Name:
			return "", fmt.Errorf("certificate %s is %s/%s: %w", old.Serial, old.Role, old.Name, ErrInvalid)
		}
		return old.Serial, nil
	}
	t, err := getToken(tokens, it.TokenID)
	if err != nil {
		return "", err
	}
	if err := t.Usable(now); err != nil {
		return "", err
	}
	if t.Role != it.Record.Role {
		return "", fmt.Errorf("token %s is for role %s: %w", t.ID, t.Role, ErrInvalid)
	}
	t.UsesLeft--
	if err := putToken(tokens, &t); err != nil {
		return "", err
	}
	var replace string
	err = scanPrefix(tx, bucketRole, roleNamePrefix(it.Record.Role, it.Record.Name), true, func(r Record) (bool, error) {
		if r.Status == Active {
			replace = r.Serial
		}
		return replace == "", nil
	})
	return replace, err
}

// enrol inserts one admitted certificate with its events.
func (w *writer) enrol(it *Enrolment, replace, actor string) error {
	r := &it.Record
	r.Supersedes = replace
	sk, err := serialKey(r.Serial)
	if err != nil {
		return err
	}
	if err := w.insert(r, sk); err != nil {
		return err
	}
	for i, k := range indexKeys(r, sk) {
		if err := w.index(i, k); err != nil {
			return err
		}
	}
	detail := "enrolled with token " + it.TokenID
	if it.Renews != "" {
		detail = "renewed by its holder"
	}
	if it.Client != "" {
		detail += " from " + it.Client
	}
	if replace != "" {
		detail += "; replaces " + replace
	}
	if err := w.audit.add(EventIssue, r, actor, detail); err != nil {
		return err
	}
	if replace == "" {
		return nil
	}
	return w.supersede(replace, r.Serial, actor)
}

func (w *writer) refusal(f *Refusal, actor string) error {
	detail := f.Reason
	if f.TokenID != "" {
		detail += "; token " + f.TokenID
	}
	if f.Client != "" {
		detail += "; from " + f.Client
	}
	return w.audit.add(EventRefuse, &Record{Serial: f.Serial, Role: f.Role, Name: f.Name}, actor, detail)
}

// Enrolled reports whether r was issued to a host that enrolled (Enrol):
// its key and files are on that host, not in the home, so r has no file
// paths, and the host renews it itself.
func (r Record) Enrolled() bool { return r.CertFile == "" && r.KeyFile == "" }
