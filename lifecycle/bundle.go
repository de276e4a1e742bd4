package lifecycle

import (
	"bytes"
	"slices"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

// WriteBundles writes the signing CA's trust bundle (ca.Authority.BundlePEM:
// during a rotation the old and the new root) to the home's ca-bundle.pem
// and to the CA file of every active certificate, in the endpoint's
// directory of the home (refusing a link on the way). Files that already hold
// it are left alone, so watchers do not reload for nothing. It returns how
// many files it changed.
func (m *Manager) WriteBundles() (int, error) { return m.writeBundles(nil) }

// freshBundles are the CA files of endpoints that the pipeline has just
// written with bundle, which writeBundles need not read again when the
// bundle to write is the same.
type freshBundles struct {
	bundle []byte
	paths  map[string]bool
}

// freshBundles names the CA files of the endpoints out re-issued under a.
func (m *Manager) freshBundles(a *ca.Authority, out []Renewal) *freshBundles {
	f := &freshBundles{bundle: a.BundlePEM(), paths: make(map[string]bool, len(out))}
	for _, r := range out {
		if r.NewSerial != "" {
			f.paths[m.Layout.Endpoint(r.Role, r.Name).CA] = true
		}
	}
	return f
}

// writeBundles is WriteBundles, which leaves alone the files of fresh
// (nil: none) when fresh's bundle is the one to write. The endpoints'
// files go through the pipeline's staging (issue.PlaceBundle).
func (m *Manager) writeBundles(fresh *freshBundles) (int, error) {
	if err := m.needCA(); err != nil {
		return 0, err
	}
	data := m.CA.BundlePEM()
	if fresh != nil && !bytes.Equal(fresh.bundle, data) {
		fresh = nil
	}
	n := 0
	// Never write through a link inside the home.
	if err := m.Layout.CheckDirs(m.Layout.Dir); err != nil {
		return n, err
	}
	// A link or another kind of file there is replaced, never followed.
	if cur, mode, err := fsutil.ReadRegular(m.Layout.Bundle()); err != nil || mode.Perm() != 0o644 || !bytes.Equal(cur, data) {
		if err := fsutil.WriteFile(m.Layout.Bundle(), data, 0o644); err != nil {
			return n, err
		}
		n++
	}
	recs, err := m.active()
	if err != nil {
		return n, err
	}
	if fresh != nil {
		recs = slices.DeleteFunc(recs, func(r store.Record) bool { return fresh.paths[m.Layout.Endpoint(r.Role, r.Name).CA] })
	}
	placed, err := issue.PlaceBundle(m.Layout, data, recs)
	return n + placed, err
}

func syncDir(dir string) error { return fsutil.SyncDir(dir) }
