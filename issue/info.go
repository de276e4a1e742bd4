package issue

import (
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/daskca/daskca/store"
)

// Info is the public view of one inventory record: what `issue`, `list` and
// `show` print. Its JSON field names are a contract for scripts and never
// change meaning.
type Info struct {
	Name              string     `json:"name"`
	Role              string     `json:"role"`
	Serial            string     `json:"serial"`
	Status            Status     `json:"status"`
	NotBefore         time.Time  `json:"not_before"`
	NotAfter          time.Time  `json:"not_after"`
	DNS               []string   `json:"dns"`
	IPs               []string   `json:"ips"`
	URI               string     `json:"uri"`
	FingerprintSHA256 string     `json:"fingerprint_sha256"`
	KeyType           string     `json:"key_type"`
	Issuer            string     `json:"issuer_fingerprint_sha256,omitempty"`
	CertFile          string     `json:"cert_file"`
	KeyFile           string     `json:"key_file"`
	CAFile            string     `json:"ca_file"`
	IssuedAt          time.Time  `json:"issued_at"`
	RevokedAt         *time.Time `json:"revoked_at,omitempty"`
	RevocationReason  string     `json:"revocation_reason,omitempty"`
	Supersedes        string     `json:"supersedes,omitempty"`
	SupersededBy      string     `json:"superseded_by,omitempty"`
}

// Status is a record's status as users see it: the inventory's status,
// except that an active certificate past its NotAfter is expired.
type Status string

// The statuses users see.
const (
	StatusActive     = Status(store.Active)
	StatusRevoked    = Status(store.Revoked)
	StatusSuperseded = Status(store.Superseded)
	StatusExpired    = Status("expired")
)

// Statuses are every Status, in the order list documents them.
var Statuses = []Status{StatusActive, StatusRevoked, StatusSuperseded, StatusExpired}

// StatusOf returns a record's status as users see it at now.
func StatusOf(r store.Record, now time.Time) Status {
	if r.Status == store.Active && !now.Before(r.NotAfter) {
		return StatusExpired
	}
	return Status(r.Status)
}

// NewInfo builds the public view of a record at the given time.
func NewInfo(r store.Record, now time.Time) Info {
	in := Info{
		Name: r.Name, Role: r.Role, Serial: r.Serial, Status: StatusOf(r, now),
		NotBefore: r.NotBefore.UTC(), NotAfter: r.NotAfter.UTC(),
		DNS: nonNil(r.DNS), IPs: nonNil(r.IPs), URI: r.URI,
		FingerprintSHA256: r.FingerprintSHA256, KeyType: r.KeyType, Issuer: r.Issuer,
		CertFile: r.CertFile, KeyFile: r.KeyFile, CAFile: r.CAFile,
		IssuedAt: r.IssuedAt.UTC(), RevocationReason: r.RevocationReason,
		Supersedes: r.Supersedes, SupersededBy: r.SupersededBy,
	}
	if !r.RevokedAt.IsZero() {
		t := r.RevokedAt.UTC()
		in.RevokedAt = &t
	}
	return in
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Find resolves what a user typed to one record: a serial (hex, with or
// without colons or 0x), "role/name", or a name. A role/name or name with an
// active certificate resolves to it; one with only inactive records resolves
// to its newest;
// ErrAmbiguous is returned when two roles have an active certificate of that
// name.
func Find(s *store.Store, query string) (store.Record, error) {
	if role, name, ok := strings.Cut(query, "/"); ok {
		if r, ok, err := s.Active(role, name); err != nil || ok {
			return r, err
		}
		recs, err := s.ByName(name)
		if err != nil {
			return store.Record{}, err
		}
		var mine []store.Record
		for _, r := range recs {
			if r.Role == role {
				mine = append(mine, r)
			}
		}
		if len(mine) == 0 {
			return store.Record{}, fmt.Errorf("%w: %s (see daskca list)", ErrNotFound, quoteClip(query))
		}
		return newest(mine), nil
	}
	if serial, err := store.NormalizeSerial(query); err == nil {
		r, err := s.Cert(serial)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.Record{}, err
		}
	}
	recs, err := s.ByName(query)
	if err != nil {
		return store.Record{}, err
	}
	if len(recs) == 0 {
		return store.Record{}, fmt.Errorf("%w: %s is neither a name nor a serial in the inventory (see daskca list)", ErrNotFound, quoteClip(query))
	}
	var active []store.Record
	for _, r := range recs {
		if r.Status == store.Active {
			active = append(active, r)
		}
	}
	switch len(active) {
	case 0:
		return newest(recs), nil
	case 1:
		return active[0], nil
	default:
		return store.Record{}, fmt.Errorf("%w: %q is active as %s and %s; say which, e.g. %s/%s",
			ErrAmbiguous, query, active[0].Role, active[1].Role, active[0].Role, query)
	}
}

// newest picks the latest of a name's records (ByName order, newest first).
// Issue times are kept to the second, so a certificate and its renewal can
// tie: the one nothing supersedes is the later.
func newest(recs []store.Record) store.Record {
	for _, r := range recs {
		if r.SupersededBy == "" && r.IssuedAt.Equal(recs[0].IssuedAt) {
			return r
		}
	}
	return recs[0]
}

// CertPEM encodes a record's certificate as PEM, as `show -o pem` prints it.
func CertPEM(r store.Record) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.DER})
}

// quoteClip quotes s for a message, cut to its first 80 characters: a query
// is what the user typed, and may be any length.
func quoteClip(s string) string {
	if n := utf8.RuneCountInString(s); n > 80 {
		return fmt.Sprintf("%.80q... (%d characters)", s, n)
	}
	return fmt.Sprintf("%q", s)
}
