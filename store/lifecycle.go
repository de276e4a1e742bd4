package store

import (
	"bytes"
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

// Imports returns recs as replacements of nothing with EventImport: records
// brought in from elsewhere (a backup, a test inventory) for Apply.
func Imports(recs []Record) []Replacement {
	out := make([]Replacement, len(recs))
	for i, r := range recs {
		out[i] = Replacement{Record: r, Kind: EventImport}
	}
	return out
}

// Note is an audit event about no single record, such as a phase of a CA
// rotation.
type Note struct {
	Kind   EventKind
	Detail string
}

// Batch is a set of writes that Apply commits together.
type Batch struct {
	// Issue are the new records: an empty Status means Active, a zero
	// IssuedAt means now, and a replaced record is marked superseded and
	// linked both ways.
	Issue []Replacement
	// Meta values to set; a nil value deletes the key.
	Meta map[string][]byte
	// Notes are appended to the audit log after the records' events.
	Notes []Note
}

// Apply commits b in one transaction: every record, every supersession,
// every meta value and every event, or, on any error, none of them. It is
// the one way records enter the inventory: issue, bulk issue, renewal,
// re-issue during a CA rotation and restore all write through it. Errors:
// a serial already stored or repeated in the batch fails it with
// ErrExists, a replaced serial that is missing or already replaced with
// ErrNotFound or ErrSuperseded, a serial replaced twice in the batch with
// ErrSuperseded too, and a record replacing itself or an invalid record
// with ErrInvalid.
//
// Serial and index keys are inserted in sorted order: bbolt appends to its
// pages instead of splitting them at random, which makes a batch of
// thousands several times faster than the same records unsorted. Events
// follow slice order: each record's event, then the supersession of what
// it replaces, then the notes.
func (s *Store) Apply(b Batch, actor string) error {
	reps, keys, err := s.prepareApply(b.Issue)
	if err != nil {
		return fmt.Errorf("applying batch: %w", err)
	}
	order := make([]int, len(reps))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	for i := 1; i < len(order); i++ {
		if bytes.Equal(keys[order[i-1]], keys[order[i]]) {
			return fmt.Errorf("applying batch: certificate %s twice in batch: %w", reps[order[i]].Record.Serial, ErrExists)
		}
	}
	metaKeys := make([]string, 0, len(b.Meta))
	for k := range b.Meta {
		if _, err := metaKey(k); err != nil {
			return fmt.Errorf("applying batch: %w", err)
		}
		metaKeys = append(metaKeys, k)
	}
	slices.Sort(metaKeys)
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
		var idx [3][][]byte
		for _, i := range order {
			if err := w.insert(&reps[i].Record, keys[i]); err != nil {
				return err
			}
			for j, k := range indexKeys(&reps[i].Record, keys[i]) {
				idx[j] = append(idx[j], k)
			}
		}
		for j := range idx {
			slices.SortFunc(idx[j], bytes.Compare)
			for _, k := range idx[j] {
				if err := w.index(j, k); err != nil {
					return err
				}
			}
		}
		for i := range reps {
			r := &reps[i]
			if err := w.audit.add(r.Kind, &r.Record, actor, r.Detail); err != nil {
				return err
			}
			if r.Replaces != "" {
				if err := w.supersede(r.Replaces, r.Record.Serial, actor); err != nil {
					return err
				}
			}
		}
		kv := tx.Bucket(bucketKV)
		for _, k := range metaKeys {
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

// prepareApply fills defaults, validates every replacement before the
// transaction starts and builds the serial keys.
func (s *Store) prepareApply(in []Replacement) ([]Replacement, [][]byte, error) {
	reps := slices.Clone(in)
	keys := make([][]byte, len(reps))
	replaced := map[string]bool{}
	now := s.now()
	for i := range reps {
		r := &reps[i]
		if r.Record.Status == "" {
			r.Record.Status = Active
		}
		if r.Record.IssuedAt.IsZero() {
			r.Record.IssuedAt = now
		}
		if r.Kind == "" {
			r.Kind = EventIssue
		}
		if r.Replaces != "" {
			if replaced[r.Replaces] {
				return nil, nil, fmt.Errorf("certificate %s replaced twice in batch: %w", r.Replaces, ErrSuperseded)
			}
			replaced[r.Replaces] = true
			r.Record.Supersedes = r.Replaces
			if r.Detail == "" {
				r.Detail = "replaces " + r.Replaces
			}
		}
		if err := r.Record.validate(); err != nil {
			return nil, nil, fmt.Errorf("%s/%s: %w", r.Record.Role, r.Record.Name, err)
		}
		if r.Replaces == r.Record.Serial {
			return nil, nil, fmt.Errorf("%s/%s: certificate %s cannot replace itself: %w", r.Record.Role, r.Record.Name, r.Replaces, ErrInvalid)
		}
		keys[i], _ = serialKey(r.Record.Serial)
	}
	return reps, keys, nil
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
