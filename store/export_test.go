package store

import "fmt"

// Writers only tests use: they change a record in ways no daskca command
// does, to reach the index and audit code paths Revoke shares.

// Event kinds of the test-only writers.
const (
	EventUpdate EventKind = "update" // Update without a more specific kind
	EventStatus EventKind = "status" // SetStatus
)

// Update changes one record in place: fn gets a copy of it and may change any
// field but Serial; index entries follow changed names, roles and times.
// One event of the given kind (empty: EventUpdate) is logged. fn runs inside
// the write transaction and must not call s. An error from fn aborts the
// update and is returned. Errors: ErrNotFound, ErrInvalid.
func (s *Store) Update(serial string, kind EventKind, actor string, fn func(*Record) error) (Record, error) {
	if kind == "" {
		kind = EventUpdate
	}
	return s.change(serial, kind, actor, func(r *Record) (string, error) { return "", callback(fn, r) })
}

// SetStatus sets the status of a record to Active or Superseded and logs a
// "status" event naming the old and new status. Use Revoke to revoke: it
// records when and why.
func (s *Store) SetStatus(serial string, st Status, actor string) (Record, error) {
	if st != Active && st != Superseded {
		return Record{}, fmt.Errorf("setting status of %s to %q (use Revoke to revoke): %w", serial, st, ErrInvalid)
	}
	return s.change(serial, EventStatus, actor, func(r *Record) (string, error) {
		from := r.Status
		r.Status = st
		return string(from) + " -> " + string(st), nil
	})
}
