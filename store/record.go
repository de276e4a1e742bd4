package store

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Status is the lifecycle state of a recorded certificate.
type Status string

// The statuses a record can have.
const (
	Active     Status = "active"     // in use (it may still have expired: see Record.Expired)
	Revoked    Status = "revoked"    // revoked; listed on the CRL until it expires
	Superseded Status = "superseded" // replaced by a newer certificate, not revoked
)

func (s Status) valid() bool { return s == Active || s == Revoked || s == Superseded }

// Record is what the inventory knows about one issued certificate. It never
// holds a private key: KeyFile is only where the key was written.
//
// Records returned by the Store are copies; the caller owns them. Times come
// back in UTC without a monotonic reading; empty slices come back nil.
type Record struct {
	Serial              string // canonical lower-case hex as big.Int.Text(16); primary key
	Role                string // scheduler|worker|client; the store only requires non-empty
	Name                string
	Status              Status
	NotBefore, NotAfter time.Time
	DNS                 []string
	IPs                 []string
	URI                 string
	FingerprintSHA256   string
	KeyType             string
	Issuer              string // SHA-256 fingerprint of the issuing certificate
	DER                 []byte
	CertFile            string
	KeyFile             string
	CAFile              string
	IssuedAt            time.Time
	RevokedAt           time.Time // zero unless revoked
	RevocationReason    string
	Supersedes          string // serial of the record this one replaced
	SupersededBy        string // serial of the record that replaced this one
}

// Expired reports whether the certificate is past its NotAfter at now.
// A certificate is valid through the NotAfter second itself (RFC 5280).
func (r Record) Expired(now time.Time) bool { return now.After(r.NotAfter) }

// validate checks what the store relies on: the key fields and the status.
func (r *Record) validate() error {
	if err := validSerial(r.Serial); err != nil {
		return err
	}
	if err := validLabel("role", r.Role); err != nil {
		return err
	}
	if err := validLabel("name", r.Name); err != nil {
		return err
	}
	if !r.Status.valid() {
		return fmt.Errorf("record %s: status %q: %w", r.Serial, r.Status, ErrInvalid)
	}
	for _, s := range []string{r.Supersedes, r.SupersededBy} {
		if s != "" {
			if err := validSerial(s); err != nil {
				return fmt.Errorf("record %s: %w", r.Serial, err)
			}
		}
	}
	return nil
}

// Record encoding (the value in the certs bucket):
//
//	0x01                        format version
//	{ tag:1 len:uvarint bytes } fields in increasing tag order
//
// Zero fields are left out; DNS and IPs repeat their tag once per element
// (elements may be empty). A time is a zig-zag varint of Unix seconds
// followed by a uvarint of nanoseconds. The encoding is canonical: the
// decoder rejects anything encode would not have produced, so a value that
// decodes re-encodes to the same bytes. A typical record is its DER plus
// about 250 bytes.
const recordFormat = 1

const (
	tagSerial byte = iota + 1
	tagRole
	tagName
	tagStatus
	tagNotBefore
	tagNotAfter
	tagDNS
	tagIPs
	tagURI
	tagFingerprint
	tagKeyType
	tagIssuer
	tagDER
	tagCertFile
	tagKeyFile
	tagCAFile
	tagIssuedAt
	tagRevokedAt
	tagReason
	tagSupersedes
	tagSupersededBy
	tagRecordMax = tagSupersededBy
)

// encodeRecord appends the encoding of r to b.
func encodeRecord(b []byte, r *Record) []byte {
	b = append(b, recordFormat)
	b = putString(b, tagSerial, r.Serial)
	b = putString(b, tagRole, r.Role)
	b = putString(b, tagName, r.Name)
	b = putString(b, tagStatus, string(r.Status))
	b = putTime(b, tagNotBefore, r.NotBefore)
	b = putTime(b, tagNotAfter, r.NotAfter)
	for _, s := range r.DNS {
		b = putField(b, tagDNS, []byte(s))
	}
	for _, s := range r.IPs {
		b = putField(b, tagIPs, []byte(s))
	}
	b = putString(b, tagURI, r.URI)
	b = putString(b, tagFingerprint, r.FingerprintSHA256)
	b = putString(b, tagKeyType, r.KeyType)
	b = putString(b, tagIssuer, r.Issuer)
	if len(r.DER) > 0 {
		b = putField(b, tagDER, r.DER)
	}
	b = putString(b, tagCertFile, r.CertFile)
	b = putString(b, tagKeyFile, r.KeyFile)
	b = putString(b, tagCAFile, r.CAFile)
	b = putTime(b, tagIssuedAt, r.IssuedAt)
	b = putTime(b, tagRevokedAt, r.RevokedAt)
	b = putString(b, tagReason, r.RevocationReason)
	b = putString(b, tagSupersedes, r.Supersedes)
	return putString(b, tagSupersededBy, r.SupersededBy)
}

// decodeRecord parses an encoding made by encodeRecord. The result shares no
// memory with b. Errors wrap ErrCorrupt.
func decodeRecord(b []byte) (Record, error) {
	var r Record
	if len(b) == 0 || b[0] != recordFormat {
		return r, fmt.Errorf("record: unknown format: %w", ErrCorrupt)
	}
	fr := fieldReader{b: b[1:], max: tagRecordMax, repeat: func(t byte) bool { return t == tagDNS || t == tagIPs }}
	for {
		tag, v, ok, err := fr.next()
		if err != nil {
			return Record{}, fmt.Errorf("record: %w", err)
		}
		if !ok {
			break
		}
		if err := r.setField(tag, v); err != nil {
			return Record{}, fmt.Errorf("record: %w", err)
		}
	}
	if err := r.validate(); err != nil {
		return Record{}, fmt.Errorf("record: %w: %w", ErrCorrupt, err)
	}
	return r, nil
}

// statusOf reads the status of an encoded record without decoding the
// rest (and without a copy: the result shares b's memory). It reports
// false when the encoding does not give one, leaving decodeRecord to say
// what is wrong.
func statusOf(b []byte) ([]byte, bool) {
	if len(b) == 0 || b[0] != recordFormat {
		return nil, false
	}
	fr := fieldReader{b: b[1:], max: tagRecordMax, repeat: func(t byte) bool { return t == tagDNS || t == tagIPs }}
	for {
		tag, v, ok, err := fr.next()
		if err != nil || !ok || tag > tagStatus {
			return nil, false
		}
		if tag == tagStatus {
			return v, true
		}
	}
}

func (r *Record) setField(tag byte, v []byte) error {
	var err error
	switch tag {
	case tagNotBefore:
		r.NotBefore, err = getTime(v)
	case tagNotAfter:
		r.NotAfter, err = getTime(v)
	case tagIssuedAt:
		r.IssuedAt, err = getTime(v)
	case tagRevokedAt:
		r.RevokedAt, err = getTime(v)
	case tagDNS:
		r.DNS = append(r.DNS, string(v))
	case tagIPs:
		r.IPs = append(r.IPs, string(v))
	case tagDER:
		r.DER = append([]byte(nil), v...)
	default:
		*r.stringField(tag) = string(v)
	}
	return err
}

func (r *Record) stringField(tag byte) *string {
	switch tag {
	case tagSerial:
		return &r.Serial
	case tagRole:
		return &r.Role
	case tagName:
		return &r.Name
	case tagStatus:
		return (*string)(&r.Status)
	case tagURI:
		return &r.URI
	case tagFingerprint:
		return &r.FingerprintSHA256
	case tagKeyType:
		return &r.KeyType
	case tagIssuer:
		return &r.Issuer
	case tagCertFile:
		return &r.CertFile
	case tagKeyFile:
		return &r.KeyFile
	case tagCAFile:
		return &r.CAFile
	case tagReason:
		return &r.RevocationReason
	case tagSupersedes:
		return &r.Supersedes
	default: // tagSupersededBy: fieldReader admits no other tag
		return &r.SupersededBy
	}
}

func putField(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func putString(b []byte, tag byte, s string) []byte {
	if s == "" {
		return b
	}
	return putField(b, tag, []byte(s))
}

func putTime(b []byte, tag byte, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	v := binary.AppendVarint(nil, t.Unix())
	v = binary.AppendUvarint(v, uint64(t.Nanosecond()))
	return putField(b, tag, v)
}

func getTime(v []byte) (time.Time, error) {
	sec, n := binary.Varint(v)
	if n <= 0 || n != len(binary.AppendVarint(nil, sec)) {
		return time.Time{}, fmt.Errorf("time seconds: %w", ErrCorrupt)
	}
	nsec, m := binary.Uvarint(v[n:])
	if m <= 0 || n+m != len(v) || nsec >= 1e9 || m != len(binary.AppendUvarint(nil, nsec)) {
		return time.Time{}, fmt.Errorf("time nanoseconds: %w", ErrCorrupt)
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if t.IsZero() {
		return time.Time{}, fmt.Errorf("explicit zero time: %w", ErrCorrupt)
	}
	return t, nil
}

// fieldReader walks the tag/length/value fields of an encoding, enforcing
// the canonical form: known tags in increasing order (repeatable tags may
// repeat), minimal lengths, no empty value for a non-repeatable tag.
type fieldReader struct {
	b      []byte
	max    byte
	last   byte
	repeat func(byte) bool
}

func (f *fieldReader) next() (tag byte, v []byte, ok bool, err error) {
	if len(f.b) == 0 {
		return 0, nil, false, nil
	}
	tag = f.b[0]
	rep := f.repeat(tag)
	if tag == 0 || tag > f.max || tag < f.last || (tag == f.last && !rep) {
		return 0, nil, false, fmt.Errorf("field tag %d out of order: %w", tag, ErrCorrupt)
	}
	n, m := binary.Uvarint(f.b[1:])
	if m <= 0 || m != len(binary.AppendUvarint(nil, n)) || n > uint64(len(f.b)-1-m) {
		return 0, nil, false, fmt.Errorf("field %d length: %w", tag, ErrCorrupt)
	}
	if n == 0 && !rep {
		return 0, nil, false, fmt.Errorf("field %d empty: %w", tag, ErrCorrupt)
	}
	v = f.b[1+m : 1+m+int(n)]
	f.b = f.b[1+m+int(n):]
	f.last = tag
	return tag, v, true, nil
}
