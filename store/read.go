package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Reads. Every returned Record is a copy owned by the caller. Callbacks run
// inside one read transaction, so they see one consistent snapshot; they
// must not call write methods of the same Store (bbolt may deadlock when a
// write needs to grow the file while a read is open). An error returned by
// a callback stops the walk and is returned as is.

// Cert returns the record with the given serial. The serial must be
// canonical (lower-case hex without leading zeros, as big.Int.Text(16));
// NormalizeSerial converts what humans type. Errors: ErrNotFound, ErrInvalid.
func (s *Store) Cert(serial string) (Record, error) {
	sk, err := serialKey(serial)
	if err != nil {
		return Record{}, err
	}
	var r Record
	err = s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketCerts).Get(sk)
		if v == nil {
			return fmt.Errorf("certificate %s: %w", serial, ErrNotFound)
		}
		r, err = decodeRecord(v)
		return err
	})
	return r, err
}

// lookup loads the record an index entry points to.
func lookup(certs *bolt.Bucket, bucket, k []byte) (Record, error) {
	sk, err := indexSerialKey(bucket, k)
	if err != nil {
		return Record{}, err
	}
	v := certs.Get(sk)
	if v == nil {
		return Record{}, fmt.Errorf("%s entry %x points to no record: %w", bucket, k, ErrCorrupt)
	}
	return decodeRecord(v)
}

// scanPrefix calls fn for each record indexed under prefix in bucket,
// in key order or, if reverse, in reverse key order.
func scanPrefix(tx *bolt.Tx, bucket, prefix []byte, reverse bool, fn func(Record) (bool, error)) error {
	certs, c := tx.Bucket(bucketCerts), tx.Bucket(bucket).Cursor()
	var k []byte
	if reverse {
		if k, _ = c.Seek(prefixEnd(prefix)); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
	} else {
		k, _ = c.Seek(prefix)
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k = step(c, reverse) {
		r, err := lookup(certs, bucket, k)
		if err != nil {
			return err
		}
		if more, err := fn(r); err != nil || !more {
			return err
		}
	}
	return nil
}

func step(c *bolt.Cursor, reverse bool) []byte {
	if reverse {
		k, _ := c.Prev()
		return k
	}
	k, _ := c.Next()
	return k
}

// ByName returns every record with that name, of any role, newest first
// (by IssuedAt, then serial). No match is an empty result, not an error.
func (s *Store) ByName(name string) ([]Record, error) {
	var out []Record
	err := s.view(func(tx *bolt.Tx) error {
		return scanPrefix(tx, bucketName, namePrefix(name), true, func(r Record) (bool, error) {
			out = append(out, r)
			return true, nil
		})
	})
	return out, err
}

// Active returns the newest (by IssuedAt) record with status Active for
// (role, name); ok is false if there is none. It does not look at expiry.
func (s *Store) Active(role, name string) (rec Record, ok bool, err error) {
	err = s.ActiveEach([]RoleName{{role, name}}, func(_ int, r Record, found bool) error {
		rec, ok = r, found
		return nil
	})
	return rec, ok, err
}

// RoleName names an endpoint: a role and a name.
type RoleName struct{ Role, Name string }

// ActiveEach looks up the active certificate of every endpoint in keys, in
// order, in one read transaction (as many Active calls would, each in its
// own), and calls fn with the index, the record and whether there is one.
// An error from fn stops the lookups and is returned.
func (s *Store) ActiveEach(keys []RoleName, fn func(i int, rec Record, ok bool) error) error {
	return s.view(func(tx *bolt.Tx) error {
		for i, k := range keys {
			var rec Record
			ok := false
			err := scanPrefix(tx, bucketRole, roleNamePrefix(k.Role, k.Name), true, func(r Record) (bool, error) {
				if r.Status == Active {
					rec, ok = r, true
				}
				return !ok, nil
			})
			if err != nil {
				return err
			}
			if err := fn(i, rec, ok); err != nil {
				return err
			}
		}
		return nil
	})
}

// Filter selects records for List. The zero value selects everything.
type Filter struct {
	Role           string    // "": any role
	Status         Status    // "": any status
	NotAfterBefore time.Time // zero: no bound; else only NotAfter strictly before it
}

func (f Filter) match(r *Record) bool {
	return (f.Role == "" || r.Role == f.Role) && (f.Status == "" || r.Status == f.Status) &&
		(f.NotAfterBefore.IsZero() || r.NotAfter.Before(f.NotAfterBefore))
}

// List streams the records f selects to fn. The order is stable and
// depends on the filter: with NotAfterBefore, by NotAfter second then
// serial (the expiry index); else with Role, by name, IssuedAt and serial (the role
// index); else by numeric serial.
func (s *Store) List(f Filter, fn func(Record) error) error {
	emit := func(r Record) (bool, error) {
		if !f.match(&r) {
			return true, nil
		}
		return true, callback(fn, r)
	}
	return s.view(func(tx *bolt.Tx) error {
		switch {
		case !f.NotAfterBefore.IsZero():
			return scanExpiry(tx, f.NotAfterBefore, emit)
		case f.Role != "":
			return scanPrefix(tx, bucketRole, rolePrefix(f.Role), false, emit)
		}
		c := tx.Bucket(bucketCerts).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if st, ok := statusOf(v); ok && f.Status != "" && string(st) != string(f.Status) {
				continue // most records of a long-lived home are superseded
			}
			r, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("certificate key %x: %w", k, err)
			}
			if _, err := emit(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// scanExpiry walks the expiry index up to the last second that can hold a
// NotAfter before t, and passes on the records strictly before t.
func scanExpiry(tx *bolt.Tx, t time.Time, fn func(Record) (bool, error)) error {
	certs, c := tx.Bucket(bucketCerts), tx.Bucket(bucketExpiry).Cursor()
	end := expiryBound(t.Unix())
	for k, _ := c.First(); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Next() {
		r, err := lookup(certs, bucketExpiry, k)
		if err != nil {
			return err
		}
		if !r.NotAfter.Before(t) {
			continue
		}
		if more, err := fn(r); err != nil || !more {
			return err
		}
	}
	return nil
}

// ExpiringBefore streams every record whose NotAfter is strictly before t,
// whatever its status, soonest first: ordered by the NotAfter second, then
// by serial (certificate times have whole seconds). It reads only the
// matching part of the expiry index. Use List with a Status to filter.
func (s *Store) ExpiringBefore(t time.Time, fn func(Record) error) error {
	return s.view(func(tx *bolt.Tx) error {
		return scanExpiry(tx, t, func(r Record) (bool, error) { return true, callback(fn, r) })
	})
}

// Count returns the number of records, from a counter kept with every
// write (no scan).
func (s *Store) Count() (int, error) {
	var n uint64
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyRecords)
		if len(v) != 8 {
			return fmt.Errorf("record count %x: %w", v, ErrCorrupt)
		}
		n = binary.BigEndian.Uint64(v)
		return nil
	})
	return int(n), err
}
