package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Every bucket name and every key of the inventory is built in this file.
//
// Layout (all integers big-endian so that byte order is numeric order):
//
//	meta        "schema" -> uint32 schema version
//	            "records" -> uint64 number of records
//	            "audit.head" -> uint64 last seq | 32-byte hash of the last event
//	kv          caller key -> caller bytes                       (Meta/SetMeta)
//	counters    name -> uint64                                   (NextCounter)
//	certs       serialKey -> record encoding                     (record.go)
//	idx.expiry  sec(notAfter) | serialKey -> ""                  (ExpiringBefore)
//	idx.role    role 0x00 name 0x00 ts(issuedAt) | serialKey -> ""  (role, role+name)
//	idx.name    name 0x00 ts(issuedAt) | serialKey -> ""         (ByName)
//	events      uint64 seq -> event encoding                     (audit.go)
//
// serialKey is one length byte followed by the serial's big-endian magnitude,
// so certs iterate in numeric serial order and the key can be cut off the
// end of an index key. sec is the Unix second as uint64 with the sign bit
// flipped (sortable for dates before 1970 too); ts is sec followed by the
// uint32 nanosecond. Roles and names must not contain 0x00, which keeps
// their prefixes unambiguous.
var (
	bucketMeta     = []byte("meta")
	bucketKV       = []byte("kv")
	bucketCounters = []byte("counters")
	bucketCerts    = []byte("certs")
	bucketExpiry   = []byte("idx.expiry")
	bucketRole     = []byte("idx.role")
	bucketName     = []byte("idx.name")
	bucketEvents   = []byte("events")

	allBuckets = [][]byte{bucketMeta, bucketKV, bucketCounters, bucketCerts,
		bucketExpiry, bucketRole, bucketName, bucketEvents}
	indexBuckets = [][]byte{bucketExpiry, bucketRole, bucketName}

	keySchema    = []byte("schema")
	keyRecords   = []byte("records")
	keyAuditHead = []byte("audit.head")
)

// maxSerialBytes bounds a serial's magnitude. RFC 5280 allows 20 octets;
// some CAs emit 21, and the margin costs nothing.
const maxSerialBytes = 32

const tsLen = 12 // ts(): 8 bytes of seconds, 4 of nanoseconds

// validSerial reports whether s is in the canonical form big.Int.Text(16)
// produces for a non-negative number: lower-case hex without leading zeros.
func validSerial(s string) error {
	if s == "" || len(s) > 2*maxSerialBytes || (len(s) > 1 && s[0] == '0') {
		return fmt.Errorf("serial %q: want lower-case hex without leading zeros: %w", s, ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("serial %q: want lower-case hex without leading zeros: %w", s, ErrInvalid)
		}
	}
	return nil
}

// NormalizeSerial turns a serial as humans write it ("0x1F", "01:af:...",
// upper case, leading zeros) into the canonical form the Store uses.
func NormalizeSerial(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "0x")
	t = strings.ReplaceAll(t, ":", "")
	if t == "" {
		return "", fmt.Errorf("serial %q: %w", s, ErrInvalid)
	}
	t = strings.TrimLeft(t, "0")
	if t == "" {
		t = "0"
	}
	if err := validSerial(t); err != nil {
		return "", err
	}
	return t, nil
}

// serialKey encodes a canonical serial; see the layout above.
func serialKey(serial string) ([]byte, error) {
	if err := validSerial(serial); err != nil {
		return nil, err
	}
	h := serial
	if len(h)%2 == 1 {
		h = "0" + h
	}
	k := make([]byte, 1+len(h)/2)
	k[0] = byte(len(h) / 2)
	if _, err := hex.Decode(k[1:], []byte(h)); err != nil {
		return nil, fmt.Errorf("serial %q: %w", serial, ErrInvalid)
	}
	return k, nil
}

// serialFromKey is the inverse of serialKey.
func serialFromKey(k []byte) (string, error) {
	if len(k) < 2 || int(k[0]) != len(k)-1 || len(k)-1 > maxSerialBytes {
		return "", fmt.Errorf("serial key %x: %w", k, ErrCorrupt)
	}
	s := strings.TrimLeft(hex.EncodeToString(k[1:]), "0")
	if s == "" {
		s = "0"
	}
	if len(k) > 2 && k[1] == 0 { // a leading zero byte is never produced
		return "", fmt.Errorf("serial key %x: %w", k, ErrCorrupt)
	}
	return s, nil
}

// sortableSec maps Unix seconds to a uint64 whose order is time order.
func sortableSec(sec int64) uint64 { return uint64(sec) ^ (1 << 63) }

func appendTS(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, sortableSec(t.Unix()))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// validLabel checks a role or name: non-empty UTF-8 without 0x00.
func validLabel(what, s string) error {
	if s == "" || !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s %q: must be non-empty UTF-8 without NUL: %w", what, s, ErrInvalid)
	}
	return nil
}

// expiryKey is sec(notAfter) | serialKey.
func expiryKey(notAfter time.Time, sk []byte) []byte {
	k := make([]byte, 0, 8+len(sk))
	k = binary.BigEndian.AppendUint64(k, sortableSec(notAfter.Unix()))
	return append(k, sk...)
}

// expiryBound is the first expiry key whose second is after sec.
func expiryBound(sec int64) []byte {
	return binary.BigEndian.AppendUint64(nil, sortableSec(sec)+1)
}

// rolePrefix is role 0x00; every role-index key of that role starts with it.
func rolePrefix(role string) []byte { return append([]byte(role), 0) }

// roleNamePrefix is role 0x00 name 0x00.
func roleNamePrefix(role, name string) []byte {
	return append(append(rolePrefix(role), name...), 0)
}

func roleKey(r *Record, sk []byte) []byte {
	return append(appendTS(roleNamePrefix(r.Role, r.Name), r.IssuedAt), sk...)
}

// namePrefix is name 0x00.
func namePrefix(name string) []byte { return append([]byte(name), 0) }

func nameKey(r *Record, sk []byte) []byte {
	return append(appendTS(namePrefix(r.Name), r.IssuedAt), sk...)
}

// indexKeys returns the key of r in each of indexBuckets, in that order.
func indexKeys(r *Record, sk []byte) [3][]byte {
	return [3][]byte{expiryKey(r.NotAfter, sk), roleKey(r, sk), nameKey(r, sk)}
}

// indexSerialKey cuts the serialKey off the end of an index key of bucket b.
func indexSerialKey(b []byte, k []byte) ([]byte, error) {
	var off int
	switch {
	case bytes.Equal(b, bucketExpiry):
		off = 8
	case bytes.Equal(b, bucketRole):
		i := bytes.IndexByte(k, 0)
		j := -1
		if i >= 0 {
			j = bytes.IndexByte(k[i+1:], 0)
		}
		if j < 0 {
			return nil, fmt.Errorf("index key %x: %w", k, ErrCorrupt)
		}
		off = i + 1 + j + 1 + tsLen
	case bytes.Equal(b, bucketName):
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			return nil, fmt.Errorf("index key %x: %w", k, ErrCorrupt)
		}
		off = i + 1 + tsLen
	}
	if off >= len(k) {
		return nil, fmt.Errorf("index key %x: %w", k, ErrCorrupt)
	}
	return k[off:], nil
}

// prefixEnd returns the smallest key greater than every key starting with p
// (p has no trailing 0xff in our layouts: it ends in 0x00).
func prefixEnd(p []byte) []byte {
	e := bytes.Clone(p)
	e[len(e)-1]++
	return e
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func eventKey(seq uint64) []byte { return u64(seq) }

// maxMetaKey bounds caller meta and counter names; they are labels, not data.
const maxMetaKey = 256

// metaKey builds the key of a caller meta value or counter.
func metaKey(name string) ([]byte, error) {
	if name == "" || len(name) > maxMetaKey {
		return nil, fmt.Errorf("meta key %q: must be 1-%d bytes: %w", name, maxMetaKey, ErrInvalid)
	}
	return []byte(name), nil
}
