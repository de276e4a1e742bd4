package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Update changes one record in place: fn gets a copy of it and may change any
// field but Serial; index entries follow changed names, roles and times.
// One event of the given kind (empty: EventUpdate) is logged. fn runs inside
// the write transaction and must not call s. An error from fn aborts the
// update and is returned. Errors: ErrNotFound, ErrInvalid.
func (s *Store) Update(serial string, kind EventKind, actor string, fn func(*Record) error) (Record, error) {
	if kind == "" {
		kind = EventUpdate
	}
	return s.change(serial, kind, actor, func(r *Record) (string, error) { return "", callback(fn, r) })
}

// SetStatus sets the status of a record to Active or Superseded and logs a
// "status" event naming the old and new status. Use Revoke to revoke: it
// records when and why.
func (s *Store) SetStatus(serial string, st Status, actor string) (Record, error) {
	if st != Active && st != Superseded {
		return Record{}, fmt.Errorf("setting status of %s to %q (use Revoke to revoke): %w", serial, st, ErrInvalid)
	}
	return s.change(serial, EventStatus, actor, func(r *Record) (string, error) {
		from := r.Status
		r.Status = st
		return string(from) + " -> " + string(st), nil
	})
}

// change loads, edits, re-validates and rewrites one record; fn edits the
// copy and returns the event detail.
func (s *Store) change(serial string, kind EventKind, actor string, fn func(*Record) (string, error)) (Record, error) {
	var out Record
	err := s.update(func(tx *bolt.Tx) error {
		w, err := s.newWriter(tx)
		if err != nil {
			return err
		}
		old, sk, err := w.get(serial)
		if err != nil {
			return err
		}
		r, _ := decodeRecord(encodeRecord(nil, &old)) // a deep copy for fn
		detail, err := fn(&r)
		if err != nil {
			return err
		}
		if r.Serial != old.Serial {
			return fmt.Errorf("serial cannot change (%s -> %s): %w", old.Serial, r.Serial, ErrInvalid)
		}
		if err := r.validate(); err != nil {
			return err
		}
		if err := w.rewrite(&old, &r, sk); err != nil {
			return err
		}
		if err := w.audit.add(kind, &r, actor, detail); err != nil {
			return err
		}
		out = r
		return w.finish()
	})
	if err != nil {
		return Record{}, fmt.Errorf("updating %s: %w", serial, err)
	}
	return decodeRecord(encodeRecord(nil, &out))
}
