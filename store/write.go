package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Writes. Each method is one bbolt transaction: the records, their index
// entries, one audit event per changed record, the record count and the
// audit head commit together or not at all.

// writer is the state of one write transaction.
type writer struct {
	certs *bolt.Bucket
	idx   [3]*bolt.Bucket // in indexBuckets order
	meta  *bolt.Bucket
	audit *auditLog
	added uint64
}

func (s *Store) newWriter(tx *bolt.Tx) (*writer, error) {
	w := &writer{certs: tx.Bucket(bucketCerts), meta: tx.Bucket(bucketMeta)}
	for i, name := range indexBuckets {
		w.idx[i] = tx.Bucket(name)
	}
	var err error
	w.audit, err = openAudit(tx, s.now())
	return w, err
}

// get loads the record with the given serial.
func (w *writer) get(serial string) (Record, []byte, error) {
	sk, err := serialKey(serial)
	if err != nil {
		return Record{}, nil, err
	}
	v := w.certs.Get(sk)
	if v == nil {
		return Record{}, nil, fmt.Errorf("certificate %s: %w", serial, ErrNotFound)
	}
	r, err := decodeRecord(v)
	if err != nil {
		return Record{}, nil, fmt.Errorf("certificate %s: %w", serial, err)
	}
	return r, sk, nil
}

// insert stores a new record; the caller adds its index entries.
func (w *writer) insert(r *Record, sk []byte) error {
	if w.certs.Get(sk) != nil {
		return fmt.Errorf("certificate %s: %w", r.Serial, ErrExists)
	}
	if err := w.certs.Put(sk, encodeRecord(nil, r)); err != nil {
		return fmt.Errorf("certificate %s: %w", r.Serial, err)
	}
	w.added++
	return nil
}

func (w *writer) index(i int, k []byte) error {
	return w.idx[i].Put(k, []byte{})
}

// rewrite replaces old by r (same serial), moving index entries whose keys
// changed.
func (w *writer) rewrite(old, r *Record, sk []byte) error {
	if err := w.certs.Put(sk, encodeRecord(nil, r)); err != nil {
		return fmt.Errorf("certificate %s: %w", r.Serial, err)
	}
	oldKeys, newKeys := indexKeys(old, sk), indexKeys(r, sk)
	for i := range oldKeys {
		if bytes.Equal(oldKeys[i], newKeys[i]) {
			continue
		}
		if err := w.idx[i].Delete(oldKeys[i]); err != nil {
			return err
		}
		if err := w.index(i, newKeys[i]); err != nil {
			return err
		}
	}
	return nil
}

// finish updates the record count and the audit head.
func (w *writer) finish() error {
	if w.added > 0 {
		n := uint64(0)
		if v := w.meta.Get(keyRecords); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		if err := w.meta.Put(keyRecords, u64(n+w.added)); err != nil {
			return err
		}
	}
	return w.audit.close()
}

func (w *writer) supersede(serial, by, actor string) error {
	old, sk, err := w.get(serial)
	if err != nil {
		return err
	}
	if old.SupersededBy != "" {
		return fmt.Errorf("certificate %s was replaced by %s: %w", serial, old.SupersededBy, ErrSuperseded)
	}
	r := old
	r.SupersededBy = by
	if r.Status == Active {
		r.Status = Superseded
	}
	if err := w.rewrite(&old, &r, sk); err != nil {
		return err
	}
	return w.audit.add(EventSupersede, &r, actor, "superseded by "+by)
}

// Revoke marks the record revoked at at (zero: now) for reason and returns
// it as stored. Errors: ErrNotFound; ErrAlreadyRevoked, with the record as
// it is.
func (s *Store) Revoke(serial, reason string, at time.Time, actor string) (Record, error) {
	if at.IsZero() {
		at = s.now()
	}
	var prior Record
	rec, err := s.change(serial, EventRevoke, actor, func(r *Record) (string, error) {
		if r.Status == Revoked {
			prior = *r
			return "", fmt.Errorf("certificate %s revoked at %s: %w", serial, r.RevokedAt.Format(time.RFC3339), ErrAlreadyRevoked)
		}
		r.Status, r.RevokedAt, r.RevocationReason = Revoked, at, reason
		return reason, nil
	})
	if errors.Is(err, ErrAlreadyRevoked) {
		return prior, err
	}
	return rec, err
}
