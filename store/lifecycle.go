package store

import (
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Event kinds written through Apply by the certificate lifecycle.
const (
	EventRenew    EventKind = "renew"     // a record issued to renew the one it replaces
	EventRotate   EventKind = "rotate"    // a record issued under a new CA (or back under the old one)
	EventCAChange EventKind = "ca-rotate" // a CA rotation phase (a Note, about no record)
)

// Replacement is one new record for Apply and the serial of the record it
// replaces ("" for none), with the kind and detail of its event. An empty
// Kind means EventIssue; an empty Detail says what it replaces.
type Replacement struct {
	Record   Record
	Replaces string
	Kind     EventKind
	Detail   string
}

// Note is an audit event about no single record, such as a phase of a CA
// rotation.
type Note struct {
	Kind   EventKind
	Detail string
}

// Batch is a set of writes that Apply commits together.
type Batch struct {
	// Issue are inserted as Issue inserts one record: an empty Status means
	// Active, a zero IssuedAt means now, and a replaced record is marked
	// superseded and linked both ways.
	Issue []Replacement
	// Meta values to set; a nil value deletes the key.
	Meta map[string][]byte
	// Notes are appended to the audit log after the records' events.
	Notes []Note
}

// Apply commits b in one transaction: every record, every supersession,
// every meta value and every event, or, on any error, none of them. Errors
// are those of Issue (ErrExists, ErrNotFound, ErrSuperseded, ErrInvalid).
func (s *Store) Apply(b Batch, actor string) error {
	reps, err := s.prepareApply(b.Issue)
	if err != nil {
		return fmt.Errorf("applying batch: %w", err)
	}
	keys := make([]string, 0, len(b.Meta))
	for k := range b.Meta {
		if _, err := metaKey(k); err != nil {
			return fmt.Errorf("applying batch: %w", err)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, n := range b.Notes {
		if n.Kind == "" {
			return fmt.Errorf("applying batch: note without a kind: %w", ErrInvalid)
		}
	}
	err = s.update(func(tx *bolt.Tx) error {
		w, err := s.newWriter(tx)
		if err != nil {
			return err
		}
		for i := range reps {
			if err := w.applyIssue(&reps[i], actor); err != nil {
				return err
			}
		}
		kv := tx.Bucket(bucketKV)
		for _, k := range keys {
			if err := putMeta(kv, k, b.Meta[k]); err != nil {
				return err
			}
		}
		for _, n := range b.Notes {
			if err := w.audit.add(n.Kind, &Record{}, actor, n.Detail); err != nil {
				return err
			}
		}
		return w.finish()
	})
	if err != nil {
		return fmt.Errorf("applying batch: %w", err)
	}
	return nil
}

// prepare fills defaults and validates every replacement before the
// transaction starts.
func (s *Store) prepareApply(in []Replacement) ([]Replacement, error) {
	reps := slices.Clone(in)
	seen := map[string]bool{}
	for i := range reps {
		r := &reps[i]
		if r.Record.Status == "" {
			r.Record.Status = Active
		}
		if r.Record.IssuedAt.IsZero() {
			r.Record.IssuedAt = s.now()
		}
		if r.Replaces != "" {
			r.Record.Supersedes = r.Replaces
		}
		if r.Kind == "" {
			r.Kind = EventIssue
		}
		if r.Detail == "" && r.Replaces != "" {
			r.Detail = "replaces " + r.Replaces
		}
		if err := r.Record.validate(); err != nil {
			return nil, err
		}
		if r.Replaces == r.Record.Serial {
			return nil, fmt.Errorf("certificate %s cannot replace itself: %w", r.Replaces, ErrInvalid)
		}
		if seen[r.Record.Serial] {
			return nil, fmt.Errorf("certificate %s twice in batch: %w", r.Record.Serial, ErrExists)
		}
		seen[r.Record.Serial] = true
	}
	return reps, nil
}

// issue inserts one prepared replacement and supersedes what it replaces.
func (w *writer) applyIssue(r *Replacement, actor string) error {
	sk, _ := serialKey(r.Record.Serial)
	if err := w.insert(&r.Record, sk); err != nil {
		return err
	}
	for i, k := range indexKeys(&r.Record, sk) {
		if err := w.index(i, k); err != nil {
			return err
		}
	}
	if err := w.audit.add(r.Kind, &r.Record, actor, r.Detail); err != nil {
		return err
	}
	if r.Replaces == "" {
		return nil
	}
	return w.supersede(r.Replaces, r.Record.Serial, actor)
}

// putMeta sets or, for a nil value, deletes one caller meta value.
func putMeta(kv *bolt.Bucket, key string, val []byte) error {
	k := []byte(key)
	if val == nil {
		return kv.Delete(k)
	}
	if err := kv.Put(k, clone(val)); err != nil {
		return fmt.Errorf("setting meta %q: %w", key, err)
	}
	return nil
}
