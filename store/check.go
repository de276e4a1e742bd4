package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxProblems bounds a Report; the rest are only counted.
const maxProblems = 1000

// Problem is one inconsistency Check found.
type Problem struct {
	Where  string // bucket, or "file" for page-level problems
	Key    string // hex key, serial or sequence number; may be empty
	Detail string
}

func (p Problem) String() string {
	if p.Key == "" {
		return p.Where + ": " + p.Detail
	}
	return p.Where + " " + p.Key + ": " + p.Detail
}

// Report is the outcome of Check.
type Report struct {
	Records  int       // records that decoded
	Events   int       // audit events that decoded
	Problems []Problem // the first maxProblems problems
	Omitted  int       // problems found beyond those listed
}

// OK reports whether Check found nothing wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) add(where, key, format string, args ...any) {
	if len(r.Problems) >= maxProblems {
		r.Omitted++
		return
	}
	r.Problems = append(r.Problems, Problem{Where: where, Key: key, Detail: fmt.Sprintf(format, args...)})
}

// Check verifies the whole inventory in one read transaction: bbolt's own
// page consistency check; every record decodes under its own serial and is
// in each index exactly once; every index entry points to a record; the
// record count; and the audit chain (contiguous sequence numbers, each hash
// recomputed, each PrevHash linking to the event before, the head matching
// the last event). Problems go into the Report; the error is for a check
// that could not run. It reads everything: minutes for millions of records.
func (s *Store) Check() (Report, error) {
	var rep Report
	err := s.view(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			rep.add("file", "", "%v", err)
		}
		n := checkRecords(tx, &rep)
		checkIndexes(tx, n, &rep)
		checkAudit(tx, &rep)
		return nil
	})
	return rep, err
}

// checkRecords checks each record and its index entries; it returns the
// number of certs entries.
func checkRecords(tx *bolt.Tx, rep *Report) int {
	var idx [3]*bolt.Bucket
	for i, name := range indexBuckets {
		idx[i] = tx.Bucket(name)
	}
	n := 0
	c := tx.Bucket(bucketCerts).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		n++
		serial, err := serialFromKey(k)
		if err != nil {
			rep.add("certs", fmt.Sprintf("%x", k), "bad key")
			continue
		}
		r, err := decodeRecord(v)
		switch {
		case err != nil:
			rep.add("certs", serial, "%v", err)
			continue
		case r.Serial != serial:
			rep.add("certs", serial, "record holds serial %s", r.Serial)
			continue
		}
		rep.Records++
		for i, ik := range indexKeys(&r, k) {
			if idx[i].Get(ik) == nil {
				rep.add(string(indexBuckets[i]), serial, "record not indexed")
			}
		}
	}
	meta := tx.Bucket(bucketMeta).Get(keyRecords)
	if len(meta) != 8 || binary.BigEndian.Uint64(meta) != uint64(n) {
		rep.add("meta", "records", "count %x, but %d records", meta, n)
	}
	return n
}

// checkIndexes counts each index; if it has more entries than there are
// records (every record's entry was already found), it looks for the
// entries that point nowhere or do not match their record.
func checkIndexes(tx *bolt.Tx, records int, rep *Report) {
	certs := tx.Bucket(bucketCerts)
	for i, name := range indexBuckets {
		b := tx.Bucket(name)
		if b.Stats().KeyN == records {
			continue
		}
		_ = b.ForEach(func(k, v []byte) error {
			r, err := lookup(certs, name, k)
			if err != nil {
				rep.add(string(name), fmt.Sprintf("%x", k), "%v", err)
				return nil
			}
			sk, _ := serialKey(r.Serial)
			if !bytes.Equal(indexKeys(&r, sk)[i], k) || len(v) != 0 {
				rep.add(string(name), fmt.Sprintf("%x", k), "stale entry for %s", r.Serial)
			}
			return nil
		})
	}
}

// checkAudit verifies the hash chain and the head.
func checkAudit(tx *bolt.Tx, rep *Report) {
	var prev Event
	c := tx.Bucket(bucketEvents).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		key := fmt.Sprintf("%x", k)
		e, err := decodeEvent(v)
		if err != nil {
			rep.add("events", key, "%v", err)
			prev = Event{Seq: prev.Seq + 1, Hash: "?"}
			continue
		}
		rep.Events++
		checkEvent(rep, key, k, &e, &prev)
		prev = e
	}
	seq, hash, err := readHead(tx.Bucket(bucketMeta))
	switch {
	case err != nil:
		rep.add("meta", "audit.head", "%v", err)
	case seq != prev.Seq || hash != prev.Hash:
		rep.add("meta", "audit.head", "head is event %d %.16s, log ends at %d %.16s", seq, hash, prev.Seq, prev.Hash)
	}
}

func checkEvent(rep *Report, key string, k []byte, e, prev *Event) {
	if len(k) != 8 || binary.BigEndian.Uint64(k) != e.Seq {
		rep.add("events", key, "holds seq %d", e.Seq)
	}
	if e.Seq != prev.Seq+1 {
		rep.add("events", key, "seq %d follows %d", e.Seq, prev.Seq)
	}
	if e.PrevHash != prev.Hash {
		rep.add("events", key, "chain broken: prev hash %.16s, event before has %.16s", e.PrevHash, prev.Hash)
	}
	if h, err := eventHash(e); err != nil || h != e.Hash {
		rep.add("events", key, "hash does not match the event (tampered)")
	}
}

// VerifyFile checks the inventory file at path without changing it: it
// opens it read-only (waiting for writers as Open does), walks every bbolt
// page, then runs Check. Use it on a backup before restoring it. It returns
// nil for a sound inventory, and an error wrapping ErrCorrupt that names the
// first problems otherwise.
func VerifyFile(path string) error {
	s, err := open(path, Options{ReadOnly: true}, true)
	if err != nil {
		return fmt.Errorf("verifying %s: %w", path, err)
	}
	defer s.Close()
	rep, err := s.Check()
	if err != nil {
		return fmt.Errorf("verifying %s: %w", path, err)
	}
	if rep.OK() {
		return nil
	}
	var errs []error
	for i, p := range rep.Problems {
		if i == 3 {
			break
		}
		errs = append(errs, errors.New(p.String()))
	}
	return fmt.Errorf("verifying %s: %d problems (%w): %w", path, len(rep.Problems)+rep.Omitted, ErrCorrupt, errors.Join(errs...))
}
