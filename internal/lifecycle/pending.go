package lifecycle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/internal/inventory"
	"github.com/daskca/daskca/store"
)

// leafFile is one file of an endpoint, by base name (cert.pem, key.pem, ...).
type leafFile struct {
	name string
	data []byte
	mode fs.FileMode
}

// placeOrder is the order in which pending files are renamed into place:
// the bundle first (it only adds trust), the key before the certificate, so
// a watcher that reloads on the certificate finds its key already there.
var placeOrder = []string{"ca.pem", "key.pem", "combined.pem", "cert.pem"}

// stage writes files into the pending directory of rec, replacing any
// earlier pending directory of the same serial.
func (m *Manager) stage(rec store.Record, files []leafFile) error {
	dir := m.Layout.PendingDir(rec.Role, rec.Name, rec.Serial)
	if err := m.Layout.CheckDirs(m.Layout.CertDir(rec.Role, rec.Name)); err != nil {
		return fmt.Errorf("staging %s/%s: %w", rec.Role, rec.Name, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("staging %s/%s: %w", rec.Role, rec.Name, err)
	}
	for _, f := range files {
		if err := fsutil.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("staging %s/%s: %w", rec.Role, rec.Name, err)
		}
	}
	return nil
}

// unstage removes the pending directory of rec (after a failed commit).
func (m *Manager) unstage(rec store.Record) {
	_ = os.RemoveAll(m.Layout.PendingDir(rec.Role, rec.Name, rec.Serial))
}

// place renames the pending files of (role, name, serial) into the
// endpoint's directory and removes the pending directory. Files already
// moved by an interrupted earlier call are skipped, so place can be
// repeated.
func (m *Manager) place(role, name, serial string) error {
	return m.placeFrom(m.Layout.PendingDir(role, name, serial), role, name)
}

// placeNew puts the files of a new endpoint's pending directory dir (see
// home.Layout.NewEndpointPendingDir) in place: the directory becomes the
// endpoint's, or, if that exists by now, its files are moved into it.
func (m *Manager) placeNew(dir, role, name string) error {
	dst := m.Layout.CertDir(role, name)
	if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(dir, dst); err != nil {
			return fmt.Errorf("placing the files of %s/%s: %w", role, name, err)
		}
		return fsutil.SyncDir(filepath.Dir(dst))
	}
	return m.placeFrom(dir, role, name)
}

// placeFrom renames the files of the pending directory dir into the
// endpoint's directory and removes dir.
func (m *Manager) placeFrom(dir, role, name string) error {
	dst := m.Layout.CertDir(role, name)
	for _, n := range placeOrder {
		err := os.Rename(filepath.Join(dir, n), filepath.Join(dst, n))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("placing the files of %s/%s: %w", role, name, err)
		}
	}
	if err := fsutil.SyncDir(dst); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("placing the files of %s/%s: %w", role, name, err)
	}
	return fsutil.SyncDir(dst)
}

// Pending is a pending directory found in the home. Name is empty for the
// pending directory of a new endpoint (home.Layout.NewEndpointPendingDir),
// whose name only the inventory record of Serial knows.
type Pending struct {
	Role, Name, Serial string
	Dir                string
}

// FindPending lists the pending directories of the home: those of new
// endpoints, then those inside endpoint directories, each in path order.
func FindPending(l home.Layout) ([]Pending, error) {
	news, err := filepath.Glob(filepath.Join(l.CertsDir(), "*", home.PendingPrefix+"*"))
	if err != nil {
		return nil, err
	}
	dirs, err := filepath.Glob(filepath.Join(l.CertsDir(), "*", "*", home.PendingPrefix+"*"))
	if err != nil {
		return nil, err
	}
	out := make([]Pending, 0, len(news)+len(dirs))
	for _, d := range news {
		out = append(out, Pending{
			Role:   filepath.Base(filepath.Dir(d)),
			Serial: strings.TrimPrefix(filepath.Base(d), home.PendingPrefix), Dir: d,
		})
	}
	for _, d := range dirs {
		name := filepath.Dir(d)
		if strings.HasPrefix(filepath.Base(name), home.PendingPrefix) {
			continue // a file inside a new endpoint's pending directory
		}
		out = append(out, Pending{
			Role: filepath.Base(filepath.Dir(name)), Name: filepath.Base(name),
			Serial: strings.TrimPrefix(filepath.Base(d), home.PendingPrefix), Dir: d,
		})
	}
	return out, nil
}

// Recover finishes what an interrupted operation left: the files of a
// pending directory whose serial the inventory records as active are put in
// place once they pass inventory.CheckPending (regular files with their
// modes, the recorded certificate, its key, CA certificates of this home
// only); a pending directory that fails the check is discarded, with a
// line to Logf, and so is one of any other serial (its transaction never
// committed, or a newer certificate replaced it since). It returns the
// records whose files it put in place.
func (m *Manager) Recover() ([]store.Record, error) {
	found, err := FindPending(m.Layout)
	if err != nil {
		return nil, err
	}
	var done []store.Record
	var as inventory.Authorities
	for _, p := range found {
		rec, err := m.Store.Cert(p.Serial)
		switch {
		case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid):
		case err != nil:
			return done, err
		case rec.Status == store.Active && rec.Role == p.Role && (p.Name == "" || rec.Name == p.Name):
			if as == nil {
				if as, err = inventory.LoadAuthorities(m.Layout); err != nil {
					return done, err
				}
			}
			if err := m.checkPending(p, rec, as); err != nil {
				m.logf("discarding %s: %v", p.Dir, err)
				break
			}
			if p.Name == "" {
				err = m.placeNew(p.Dir, p.Role, rec.Name)
			} else {
				err = m.place(p.Role, p.Name, p.Serial)
			}
			if err != nil {
				return done, err
			}
			done = append(done, rec)
			continue
		}
		if err := os.RemoveAll(p.Dir); err != nil {
			return done, fmt.Errorf("removing %s: %w", p.Dir, err)
		}
	}
	return done, nil
}

// checkPending checks a pending directory of the active record rec before
// its files are put in place: the directories down to it and the endpoint's
// are safe (no links, no one else can write them), and its files pass
// inventory.CheckPending.
func (m *Manager) checkPending(p Pending, rec store.Record, as inventory.Authorities) error {
	if err := m.Layout.SafeDir(p.Dir, false); err != nil {
		return err
	}
	dst := m.Layout.CertDir(rec.Role, rec.Name)
	if err := m.Layout.CheckDirs(dst); err != nil {
		return err
	}
	_, err := os.Lstat(dst)
	whole := p.Name == "" && errors.Is(err, fs.ErrNotExist)
	return inventory.CheckPending(p.Dir, rec, as, whole)
}
