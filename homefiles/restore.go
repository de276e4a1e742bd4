package homefiles

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// RestoreOptions are the choices of Restore.
type RestoreOptions struct {
	Now   time.Time // names the file the replaced inventory is kept as
	Actor string    // recorded in the audit events of carried revocations
	// ForgetRevocations lets the restore go ahead when crl.pem revokes
	// certificates that neither the backup nor the current inventory holds
	// (the current inventory is lost): their revocation cannot be carried,
	// and the next CRL will not list them.
	ForgetRevocations bool
}

// Restored is what Restore did.
type Restored struct {
	Verified
	Carried   int      // revocations made after the backup, applied to its records
	Imported  int      // revoked records missing from the backup, copied in
	Forgotten []string // serials revoked in crl.pem that could not be carried
	Aside     string   // where the previous inventory is kept ("" if none)
}

// Restore replaces the inventory of l with the backup at path, and never
// un-revokes: the backup is copied to a temporary file beside the
// inventory, that copy must pass VerifyBackup, and every revocation the
// backup does not know is carried into it before it is put in place: the
// revoked records of the current inventory (marked revoked in the copy, or
// copied in whole when the backup lacks them) and the entries of the CRLs
// the home has published (crl.pem, signed by a CA of the home). A serial
// crl.pem revokes that neither the backup nor the current inventory holds
// fails the restore with ErrUnrevoke, unless opts.ForgetRevocations. The
// CRL counter of the copy is raised past every number the home published.
// Then the current inventory (if any) is kept as a hard link named by
// AsidePath and one rename puts the copy in place, synced, so a crash
// leaves either the old inventory or the restored one. While it works it
// holds the current inventory's write lock (when that file still opens),
// so no daskca process writes to the inventory being replaced.
func Restore(l home.Layout, path string, opts RestoreOptions) (Restored, error) {
	cur := l.Inventory()
	var curStore *store.Store
	if _, err := os.Lstat(cur); err == nil {
		s, err := store.Open(cur, store.Options{})
		switch {
		case err == nil:
			defer s.Close()
			curStore = s
		case !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, store.ErrSchema):
			return Restored{}, err
		}
	}
	tmp, err := copyBeside(path, cur)
	if err != nil {
		return Restored{}, err
	}
	defer os.Remove(tmp)
	defer os.Remove(store.WriterLockPath(tmp))
	var r Restored
	if r.Verified, err = VerifyBackup(l, tmp); err != nil {
		return Restored{}, fmt.Errorf("restoring from %s: %w", path, err)
	}
	if err := carryRevocations(l, curStore, tmp, opts, &r); err != nil {
		return Restored{}, fmt.Errorf("restoring from %s: %w", path, err)
	}
	if _, err := os.Lstat(cur); err == nil {
		r.Aside = AsidePath(l, opts.Now)
		if err := os.Link(cur, r.Aside); err != nil {
			return Restored{}, fmt.Errorf("keeping the current inventory aside: %w", err)
		}
	}
	if err := os.Rename(tmp, cur); err != nil {
		return Restored{}, fmt.Errorf("restoring %s: %w", cur, err)
	}
	if err := fsutil.SyncDir(filepath.Dir(cur)); err != nil {
		return Restored{}, err
	}
	return r, nil
}

// carryRevocations applies to the inventory file tmp every revocation of
// the current inventory cur (nil if it does not open) and of the home's
// published CRLs that tmp lacks, and raises its CRL counter (see Restore).
func carryRevocations(l home.Layout, cur *store.Store, tmp string, opts RestoreOptions, r *Restored) error {
	as, err := LoadAuthorities(l)
	if err != nil {
		return err
	}
	pub, err := ReadPublished(l, as)
	if err != nil {
		return fmt.Errorf("%w (move crl.pem aside only if it is not this home's)", err)
	}
	floor, err := CRLFloor(l)
	if err != nil {
		return err
	}
	var revoked []store.Record
	if cur != nil {
		err := cur.List(store.Filter{Status: store.Revoked}, func(rec store.Record) error {
			revoked = append(revoked, rec)
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading the revocations of the current inventory: %w", err)
		}
		n, err := cur.Counter(CRLCounter)
		if err != nil {
			return err
		}
		floor = max(floor, n)
	}
	t, err := store.Open(tmp, store.Options{Now: func() time.Time { return opts.Now }})
	if err != nil {
		return err
	}
	defer t.Close()
	done := map[string]bool{}
	for _, rec := range revoked {
		done[rec.Serial] = true
		if err := carry(t, rec.Serial, rec.RevocationReason, rec.RevokedAt, opts.Actor, &rec, r); err != nil {
			return err
		}
	}
	var missing []string
	for serial, rev := range pub.Revoked {
		if done[serial] {
			continue
		}
		switch err := carry(t, serial, reasonName(rev.Reason), rev.At, opts.Actor, nil, r); {
		case errors.Is(err, store.ErrNotFound):
			missing = append(missing, serial)
		case err != nil:
			return err
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 && !opts.ForgetRevocations {
		return fmt.Errorf("%w: crl.pem revokes %d certificate(s) that neither the backup nor the current inventory holds (serial %s%s)",
			ErrUnrevoke, len(missing), missing[0], more(len(missing)-1))
	}
	r.Forgotten = missing
	if floor > 0 {
		if _, err := t.NextCounterAbove(CRLCounter, floor); err != nil {
			return err
		}
	}
	return t.Close()
}

// carry revokes serial in t unless it is revoked there already. A serial
// t lacks is copied in from full, if given; else carry fails with
// store.ErrNotFound.
func carry(t *store.Store, serial, reason string, at time.Time, actor string, full *store.Record, r *Restored) error {
	b, err := t.Cert(serial)
	switch {
	case errors.Is(err, store.ErrNotFound) && full != nil:
		if err := t.Apply(store.Batch{Issue: store.Imports([]store.Record{*full})}, actor); err != nil {
			return fmt.Errorf("copying revoked %s into the restored inventory: %w", serial, err)
		}
		r.Imported++
		return nil
	case err != nil:
		return err
	case b.Status == store.Revoked:
		return nil
	}
	if _, err := t.Revoke(serial, reason, at, actor); err != nil {
		return fmt.Errorf("carrying the revocation of %s: %w", serial, err)
	}
	r.Carried++
	return nil
}

func more(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" and %d more", n)
}

// reasonName names an RFC 5280 CRLReason code as daskca revoke does.
func reasonName(code int) string {
	switch code {
	case 1:
		return "keyCompromise"
	case 3:
		return "affiliationChanged"
	case 4:
		return "superseded"
	case 5:
		return "cessationOfOperation"
	case 9:
		return "privilegeWithdrawn"
	}
	return "unspecified"
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
