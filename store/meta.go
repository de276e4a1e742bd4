package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Meta returns a copy of the caller value stored under key (for example
// the trust domain), or ErrNotFound.
func (s *Store) Meta(key string) ([]byte, error) {
	k, err := metaKey(key)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketKV).Get(k)
		if v == nil {
			return fmt.Errorf("meta %q: %w", key, ErrNotFound)
		}
		out = clone(v)
		return nil
	})
	return out, err
}

// SetMeta stores val under key, replacing any earlier value. Meta values
// are configuration, not certificates, and are not audited.
func (s *Store) SetMeta(key string, val []byte) error {
	k, err := metaKey(key)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketKV).Put(k, clone(val)); err != nil {
			return fmt.Errorf("setting meta %q: %w", key, err)
		}
		return nil
	})
}

// NextCounter increments the named counter and returns its new value: 1 the
// first time, then 2, 3, ... Values are never reused, even across crashes,
// because the increment commits before the value is returned (a CRL number
// needs exactly that).
func (s *Store) NextCounter(name string) (uint64, error) {
	return s.NextCounterAbove(name, 0)
}

// NextCounterAbove is NextCounter for a counter that must also pass floor
// (a number known from outside the inventory): it stores and returns the
// larger of the counter and floor, plus one.
func (s *Store) NextCounterAbove(name string, floor uint64) (uint64, error) {
	k, err := metaKey(name)
	if err != nil {
		return 0, err
	}
	var n uint64
	err = s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCounters)
		if v := b.Get(k); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("counter %q: %x: %w", name, v, ErrCorrupt)
			}
			n = binary.BigEndian.Uint64(v)
		}
		n = max(n, floor) + 1
		return b.Put(k, u64(n))
	})
	if err != nil {
		return 0, fmt.Errorf("counter %q: %w", name, err)
	}
	return n, nil
}

// Counter returns the named counter's value: the last value NextCounter
// returned, 0 if never.
func (s *Store) Counter(name string) (uint64, error) {
	k, err := metaKey(name)
	if err != nil {
		return 0, err
	}
	var n uint64
	err = s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketCounters).Get(k)
		switch {
		case v == nil:
		case len(v) != 8:
			return fmt.Errorf("counter %q: %x: %w", name, v, ErrCorrupt)
		default:
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return n, err
}
