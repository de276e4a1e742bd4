package lifecycle

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteBundlesRefusesLinks: the bundles of a rotation are written into
// endpoint directories of the home only, never through a link.
func TestWriteBundlesRefusesLinks(t *testing.T) {
	f := newFixture(t, false)
	rec := f.active("worker", "w1")
	dir := f.m.Layout.CertDir(rec.Role, rec.Name)
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Rename(dir, target); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(target, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.WriteBundles(); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("WriteBundles = %v, want a refusal naming the link", err)
	}
	if _, err := os.Lstat(filepath.Join(target, "ca.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a bundle was written through the link: %v", err)
	}
}
