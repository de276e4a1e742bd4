package store

import (
	"bytes"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ExpiringBetween streams every record whose NotAfter is at or after from
// and strictly before to, whatever its status, soonest first (by NotAfter
// second, then serial), reading only that part of the expiry index. With
// from set to now it leaves out what has already expired, which in an
// inventory kept for years is most of the index: "what expires in the next
// 30 days" then reads only those records.
func (s *Store) ExpiringBetween(from, to time.Time, fn func(Record) error) error {
	return s.view(func(tx *bolt.Tx) error {
		certs, c := tx.Bucket(bucketCerts), tx.Bucket(bucketExpiry).Cursor()
		start := binary.BigEndian.AppendUint64(nil, sortableSec(from.Unix()))
		end := expiryBound(to.Unix())
		for k, _ := c.Seek(start); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Next() {
			r, err := lookup(certs, bucketExpiry, k)
			if err != nil {
				return err
			}
			if r.NotAfter.Before(from) || !r.NotAfter.Before(to) {
				continue // same second as a bound, outside it by a fraction
			}
			if err := callback(fn, r); err != nil {
				return err
			}
		}
		return nil
	})
}
