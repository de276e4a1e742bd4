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

// TestWriteBundlesReplacesALinkedHomeBundle: a ca-bundle.pem that is a
// link is replaced by a regular file, even when its target holds the
// bundle, and the target is left alone.
func TestWriteBundlesReplacesALinkedHomeBundle(t *testing.T) {
	f := newFixture(t, false)
	p := f.m.Layout.Bundle()
	data := mustRead(t, p)
	target := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(target, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	n, err := f.m.WriteBundles()
	if err != nil || n != 1 {
		t.Fatalf("WriteBundles = %d, %v; want 1 file written", n, err)
	}
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Errorf("%s: %v, %v; want a regular 0644 file", p, fi.Mode(), err)
	}
	if got := mustRead(t, p); string(got) != string(data) {
		t.Errorf("%s holds %q", p, got)
	}
}
