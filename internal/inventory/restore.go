package inventory

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// Verified is what VerifyBackup found in a backup.
type Verified struct {
	Records int // records, each signed by a CA of the home
	Events  int // audit events, their chain intact
}

// VerifyBackup checks that the file at path is a sound inventory
// (store.VerifyFile: every page, record, index and the audit chain) whose
// every certificate was signed by a CA of the home l (ErrForeign
// otherwise). It changes nothing.
func VerifyBackup(l home.Layout, path string) (Verified, error) {
	if err := store.VerifyFile(path); err != nil {
		return Verified{}, err
	}
	as, err := LoadAuthorities(l)
	if err != nil {
		return Verified{}, err
	}
	s, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		return Verified{}, fmt.Errorf("verifying %s: %w", path, err)
	}
	defer s.Close()
	var v Verified
	err = s.List(store.Filter{}, func(r store.Record) error {
		if _, err := as.Verify(r); err != nil {
			return err
		}
		v.Records++
		return nil
	})
	if err == nil {
		err = s.Events(func(store.Event) error { v.Events++; return nil })
	}
	if err != nil {
		return Verified{}, fmt.Errorf("verifying %s: %w", path, err)
	}
	return v, nil
}

// Restore replaces the inventory of l with the backup at path. The backup
// is copied to a temporary file beside the inventory, and that copy must
// pass VerifyBackup; then the current inventory (if any) is kept as a hard
// link named by AsidePath and one rename puts the copy in place, synced, so
// a crash leaves either the old inventory or the restored one. While it
// works it holds the current inventory's write lock (when that file still
// opens), so no daskca process writes to the inventory being replaced. It
// returns what the backup holds and the path the previous inventory was
// kept at ("" if there was none).
func Restore(l home.Layout, path string, now time.Time) (Verified, string, error) {
	cur := l.Inventory()
	if _, err := os.Lstat(cur); err == nil {
		s, err := store.Open(cur, store.Options{})
		switch {
		case err == nil:
			defer s.Close()
		case !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, store.ErrSchema):
			return Verified{}, "", err
		}
	}
	tmp, err := copyBeside(path, cur)
	if err != nil {
		return Verified{}, "", err
	}
	defer os.Remove(tmp)
	v, err := VerifyBackup(l, tmp)
	if err != nil {
		return Verified{}, "", fmt.Errorf("restoring from %s: %w", path, err)
	}
	aside := ""
	if _, err := os.Lstat(cur); err == nil {
		aside = AsidePath(l, now)
		if err := os.Link(cur, aside); err != nil {
			return Verified{}, "", fmt.Errorf("keeping the current inventory aside: %w", err)
		}
	}
	if err := os.Rename(tmp, cur); err != nil {
		return Verified{}, "", fmt.Errorf("restoring %s: %w", cur, err)
	}
	if err := fsutil.SyncDir(filepath.Dir(cur)); err != nil {
		return Verified{}, "", err
	}
	return v, aside, nil
}

// AsidePath is where Restore keeps the inventory it replaces.
func AsidePath(l home.Layout, now time.Time) string {
	return l.Inventory() + ".before-restore-" + now.UTC().Format("20060102T150405.000000000Z")
}

// copyBeside copies src to a synced 0600 temporary file in dst's directory
// and returns its name.
func copyBeside(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".restore-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(out.Name())
		return "", fmt.Errorf("copying %s: %w", src, err)
	}
	return out.Name(), nil
}
