package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// EventKind names what happened to a record.
type EventKind string

// Event kinds written by the Store itself; a Replacement given to Apply
// may carry one of these or a lifecycle kind (EventRenew, EventRotate).
const (
	EventIssue     EventKind = "issue"     // a record was issued (Apply, Enrol)
	EventImport    EventKind = "import"    // a record was brought in from elsewhere (Imports)
	EventRevoke    EventKind = "revoke"    // Revoke
	EventSupersede EventKind = "supersede" // a record was replaced by a newer one (Apply, Enrol)
)

// Event is one entry of the append-only audit log. Seq counts from 1 without
// gaps. Hash is the hex SHA-256 of the event's encoding without Hash;
// PrevHash is the Hash of the event before it ("" for the first), so
// changing, removing or reordering an event breaks the chain (Check).
//
// The chain proves integrity against accidents and partial edits. Someone
// able to rewrite the whole file can rewrite the chain too, unless the head
// (AuditHead) was recorded elsewhere.
type Event struct {
	Seq                       uint64
	Time                      time.Time
	Kind                      EventKind
	Serial, Role, Name, Actor string
	Detail                    string
	PrevHash, Hash            string
}

// Event encoding: 'E' then tag/length/value fields as for records (see
// record.go); hashes are stored as 32 raw bytes.
const eventFormat = 'E'

const (
	etagSeq byte = iota + 1
	etagTime
	etagKind
	etagSerial
	etagRole
	etagName
	etagActor
	etagDetail
	etagPrev
	etagHash
)

func encodeEvent(b []byte, e *Event, withHash bool) ([]byte, error) {
	b = append(b, eventFormat)
	b = putField(b, etagSeq, binary.AppendUvarint(nil, e.Seq))
	b = putTime(b, etagTime, e.Time)
	b = putString(b, etagKind, string(e.Kind))
	b = putString(b, etagSerial, e.Serial)
	b = putString(b, etagRole, e.Role)
	b = putString(b, etagName, e.Name)
	b = putString(b, etagActor, e.Actor)
	b = putString(b, etagDetail, e.Detail)
	hashes := []struct {
		tag byte
		h   string
	}{{etagPrev, e.PrevHash}, {etagHash, e.Hash}}
	if !withHash {
		hashes = hashes[:1]
	}
	for _, h := range hashes {
		if h.h == "" {
			continue
		}
		raw, err := hex.DecodeString(h.h)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("event %d: hash %q: %w", e.Seq, h.h, ErrInvalid)
		}
		b = putField(b, h.tag, raw)
	}
	return b, nil
}

// decodeEvent parses an encoding made by encodeEvent. Errors wrap ErrCorrupt.
func decodeEvent(b []byte) (Event, error) {
	var e Event
	if len(b) == 0 || b[0] != eventFormat {
		return e, fmt.Errorf("event: unknown format: %w", ErrCorrupt)
	}
	fr := fieldReader{b: b[1:], max: etagHash, repeat: func(byte) bool { return false }}
	for {
		tag, v, ok, err := fr.next()
		if err != nil {
			return Event{}, fmt.Errorf("event: %w", err)
		}
		if !ok {
			break
		}
		if err := e.setField(tag, v); err != nil {
			return Event{}, fmt.Errorf("event: %w", err)
		}
	}
	if e.Seq == 0 {
		return Event{}, fmt.Errorf("event: no sequence number: %w", ErrCorrupt)
	}
	return e, nil
}

func (e *Event) setField(tag byte, v []byte) error {
	var err error
	switch tag {
	case etagSeq:
		var n int
		e.Seq, n = binary.Uvarint(v)
		if n != len(v) || n != len(binary.AppendUvarint(nil, e.Seq)) {
			err = fmt.Errorf("seq: %w", ErrCorrupt)
		}
	case etagTime:
		e.Time, err = getTime(v)
	case etagPrev, etagHash:
		if len(v) != sha256.Size {
			return fmt.Errorf("hash length %d: %w", len(v), ErrCorrupt)
		}
		if tag == etagPrev {
			e.PrevHash = hex.EncodeToString(v)
		} else {
			e.Hash = hex.EncodeToString(v)
		}
	default:
		*e.stringField(tag) = string(v)
	}
	return err
}

func (e *Event) stringField(tag byte) *string {
	switch tag {
	case etagKind:
		return (*string)(&e.Kind)
	case etagSerial:
		return &e.Serial
	case etagRole:
		return &e.Role
	case etagName:
		return &e.Name
	case etagActor:
		return &e.Actor
	default: // etagDetail: fieldReader admits no other tag
		return &e.Detail
	}
}

// eventHash is the hex SHA-256 of e's encoding without its Hash.
func eventHash(e *Event) (string, error) {
	b, err := encodeEvent(nil, e, false)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// auditLog appends events within one write transaction. The head (last seq
// and hash) is kept in the meta bucket so that a removed tail is noticed.
type auditLog struct {
	events, meta *bolt.Bucket
	seq          uint64
	hash         string
	now          time.Time
}

func openAudit(tx *bolt.Tx, now time.Time) (*auditLog, error) {
	a := &auditLog{events: tx.Bucket(bucketEvents), meta: tx.Bucket(bucketMeta), now: now}
	a.events.FillPercent = 1 // append-only: pack pages full
	seq, hash, err := readHead(a.meta)
	a.seq, a.hash = seq, hash
	return a, err
}

func readHead(meta *bolt.Bucket) (uint64, string, error) {
	v := meta.Get(keyAuditHead)
	switch {
	case v == nil:
		return 0, "", nil
	case len(v) != 8+sha256.Size:
		return 0, "", fmt.Errorf("audit head %x: %w", v, ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), hex.EncodeToString(v[8:]), nil
}

// add appends one event about r.
func (a *auditLog) add(kind EventKind, r *Record, actor, detail string) error {
	if kind == "" {
		return fmt.Errorf("event kind: empty: %w", ErrInvalid)
	}
	e := Event{Seq: a.seq + 1, Time: a.now, Kind: kind, Serial: r.Serial, Role: r.Role,
		Name: r.Name, Actor: actor, Detail: detail, PrevHash: a.hash}
	h, err := eventHash(&e)
	if err != nil {
		return err
	}
	e.Hash = h
	v, err := encodeEvent(nil, &e, true)
	if err != nil {
		return err
	}
	if err := a.events.Put(eventKey(e.Seq), v); err != nil {
		return fmt.Errorf("appending event %d: %w", e.Seq, err)
	}
	a.seq, a.hash = e.Seq, h
	return nil
}

// close writes the head back; call it once before the transaction commits.
func (a *auditLog) close() error {
	if a.seq == 0 {
		return nil
	}
	raw, _ := hex.DecodeString(a.hash)
	return a.meta.Put(keyAuditHead, append(u64(a.seq), raw...))
}

// Events streams the audit log to fn in sequence order, from one consistent
// snapshot. fn must not call write methods of s (bbolt may deadlock); an
// error from fn stops the walk and is returned.
func (s *Store) Events(fn func(Event) error) error {
	return s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			e, err := decodeEvent(v)
			if err != nil {
				return fmt.Errorf("event %x: %w", k, err)
			}
			if err := callback(fn, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// AuditHead returns the sequence number and hash of the last event (0 and ""
// for an empty log). Recording it elsewhere lets a later Check prove that
// the log was not rewritten since.
func (s *Store) AuditHead() (seq uint64, hash string, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		seq, hash, err = readHead(tx.Bucket(bucketMeta))
		return err
	})
	return seq, hash, err
}
