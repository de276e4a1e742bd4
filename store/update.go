package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

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
