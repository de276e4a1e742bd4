package lifecycle

import (
	"errors"
	"fmt"
	"os"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// A home begins with CreateHome, and every command that issues opens it
// with OpenWriter, which finishes an interrupted run first.

// ErrHomeExists: the directory given for a new home already holds a
// daskca CA or inventory.
var ErrHomeExists = errors.New("already holds a daskca CA")

// ErrUnfinished wraps what stopped OpenWriter from finishing the work an
// interrupted run left in the home.
var ErrUnfinished = errors.New("finishing an interrupted run")

// CheckFresh returns an error wrapping ErrHomeExists when l already holds
// an inventory or a CA directory, so that a new home is refused before a
// password is asked for.
func CheckFresh(l home.Layout) error {
	for _, p := range []string{l.Inventory(), l.CADir()} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s %w", l.Dir, ErrHomeExists)
		}
	}
	return nil
}

// CreateHome makes l a daskca home for the CA a: it saves a into
// l.CADir() (keys encrypted with password, empty for an insecure CA; see
// ca.Authority.Save), writes the trust bundle and creates an empty
// inventory. The home directory is created 0700 if missing, and must be the
// user's own and private against writes (an error wrapping home.ErrUnsafe
// otherwise). It is all or nothing: if a step fails, what this call created
// is removed again, the whole directory if it made it. Call CheckFresh
// first; Save refuses to overwrite a CA.
func CreateHome(l home.Layout, a *ca.Authority, password []byte) (err error) {
	_, statErr := os.Stat(l.Dir)
	created := os.IsNotExist(statErr)
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return fmt.Errorf("creating home: %w", err)
	}
	if err := l.Check(); err != nil {
		return err
	}
	defer func() {
		if err == nil {
			return
		}
		if created {
			_ = os.RemoveAll(l.Dir)
			return
		}
		_ = os.RemoveAll(l.CADir())
		_ = os.Remove(l.Bundle())
		_ = os.Remove(l.Inventory())
		_ = os.Remove(store.WriterLockPath(l.Inventory()))
	}()
	if err := a.Save(l.CADir(), password); err != nil {
		return err
	}
	if err := fsutil.WriteFile(l.Bundle(), a.BundlePEM(), 0o644); err != nil {
		return err
	}
	s, err := store.Open(l.Inventory(), store.Options{})
	if err != nil {
		return err
	}
	return s.Close()
}

// OpenWriter opens the inventory of the home l for writing (opts.ReadOnly
// is ignored) and, holding its write lock, finishes what an interrupted
// issue or renewal left (Manager.Recover): the files of a recorded
// certificate still in its pending directory are put in place, and pending
// directories of unrecorded serials are removed. Commands that issue open
// their home this way, so each starts from a home whose files match the
// inventory. logf, if not nil, hears what recovery did on its own. Errors
// of store.Open are returned as they are; recovery errors wrap
// ErrUnfinished, and the store is closed again.
func OpenWriter(l home.Layout, opts store.Options, logf func(format string, args ...any)) (*store.Store, error) {
	opts.ReadOnly = false
	s, err := store.Open(l.Inventory(), opts)
	if err != nil {
		return nil, err
	}
	if _, err := (&Manager{Layout: l, Store: s, Now: opts.Now, Logf: logf}).Recover(); err != nil {
		s.Close()
		return nil, fmt.Errorf("%w: %w", ErrUnfinished, err)
	}
	return s, nil
}
