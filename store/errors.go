package store

import "errors"

// Sentinel errors. Every error a Store method returns that a caller may want
// to branch on wraps one of these; test with errors.Is.
var (
	// ErrNotFound: the record, meta key or inventory file does not exist.
	// Opening a missing file read-only also wraps fs.ErrNotExist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a record with that serial is already in the inventory, or a
	// batch names the same serial twice.
	ErrExists = errors.New("already exists")
	// ErrLocked: another process holds the inventory's file lock for longer
	// than Options.Timeout.
	ErrLocked = errors.New("inventory is locked by another daskca process")
	// ErrCorrupt: the file is not a bbolt database, is truncated, or its pages
	// or records fail validation.
	ErrCorrupt = errors.New("inventory is corrupt")
	// ErrSchema: the file is a bbolt database but not an inventory this
	// version understands (missing or newer schema version).
	ErrSchema = errors.New("unsupported inventory schema")
	// ErrInvalid: a record or argument fails validation (serial not canonical
	// lower-case hex, empty role or name, unknown status, ...).
	ErrInvalid = errors.New("invalid")
	// ErrAlreadyRevoked: Revoke of a record that is already revoked.
	ErrAlreadyRevoked = errors.New("certificate is already revoked")
	// ErrSuperseded: Apply or Enrol tried to replace a record that another
	// record has already replaced.
	ErrSuperseded = errors.New("certificate is already superseded")
	// ErrReadOnly: a write on a Store opened with Options.ReadOnly.
	ErrReadOnly = errors.New("inventory is open read-only")
	// ErrPermissions: the inventory file, or its directory, is writable by
	// group or others.
	ErrPermissions = errors.New("inventory is not private to its owner")
	// ErrClosed: a call on a Store after Close.
	ErrClosed = errors.New("inventory is closed")
)
