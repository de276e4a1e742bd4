package lifecycle

import (
	"bytes"
	"os"
	"path/filepath"

	"github.com/daskca/daskca/internal/fsutil"
)

// WriteBundles writes the signing CA's trust bundle (ca.Authority.BundlePEM:
// during a rotation the old and the new root) to the home's ca-bundle.pem
// and to the CA file of every active certificate, in the endpoint's
// directory of the home (refusing a link on the way). Files that already hold
// it are left alone, so watchers do not reload for nothing. It returns how
// many files it changed.
func (m *Manager) WriteBundles() (int, error) {
	if err := m.needCA(); err != nil {
		return 0, err
	}
	data := m.CA.BundlePEM()
	paths := []string{m.Layout.Bundle()}
	recs, err := m.active()
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, r := range recs {
		p := m.Layout.Endpoint(r.Role, r.Name).CA
		if r.CAFile != "" && !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	n := 0
	for _, p := range paths {
		// Never write through a link inside the home.
		if err := m.Layout.CheckDirs(filepath.Dir(p)); err != nil {
			return n, err
		}
		if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, data) {
			continue
		}
		if err := fsutil.WriteFile(p, data, 0o644); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func syncDir(dir string) error { return fsutil.SyncDir(dir) }
