// Package store is the daskca inventory: every certificate the CA issued,
// its state and an audit log, in one bbolt file (inventory.db).
//
// The package hides bbolt entirely. Callers see domain methods (Apply,
// the one way records enter; Enrol, Revoke, Cert, ByName, Active, List,
// ExpiringBefore, Events, Check, Backup), and every method runs in its own
// transaction: a write stores
// the records, their index entries and one audit event per changed record
// together or not at all; a read copies values out before the transaction
// ends, so nothing returned aliases bbolt's memory map.
//
// The inventory holds certificates and metadata, never private keys: a
// Record only says where the key file was written.
//
// # Opening
//
// Open takes the file lock bbolt uses (exclusive for writers, shared for
// ReadOnly) waiting at most Options.Timeout, then validates the file before
// bbolt maps it: both meta pages, the file size against the pages the meta
// claims, and, for files up to 64 MiB, a walk of every page (ids in range,
// no page reached twice, element bounds, freelist). Anything wrong is
// ErrCorrupt; bbolt panics and memory faults on damaged pages are turned
// into ErrCorrupt too. Bigger files get the full walk from VerifyFile; a
// damaged page deep inside a big file that Open did not walk is found by
// the first read that touches it (ErrCorrupt), except for a page cycle,
// which only VerifyFile detects safely. Buckets are created when a new file
// is opened; an existing one must carry SchemaVersion or older (ErrSchema).
//
// # Layout
//
// keys.go holds every bucket name and key format: numeric-order serial
// keys, an expiry index keyed by (NotAfter second, serial) so that
// ExpiringBefore is one cursor range, a (role, name, IssuedAt, serial)
// index that answers both "all of a role" and "the active one of
// role/name", and a (name, IssuedAt, serial) index for ByName. Records use
// a compact tag-length-value encoding (record.go): about 250 bytes plus the
// DER, so a million records with 1 KB certificates stay near 1.5 GB.
//
// # Audit
//
// Events are append-only, numbered from 1, and hash-chained: each holds
// the SHA-256 of its own encoding and of the event before. Check recomputes
// the chain and compares it with the head kept in the meta bucket.
//
// A Store is safe for concurrent use. Only one process may have the file
// open for writing at a time; others wait up to Options.Timeout and then
// get ErrLocked.
package store
