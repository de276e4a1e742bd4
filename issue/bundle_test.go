package issue

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/store"
)

// TestPlaceBundle checks which endpoints' CA files PlaceBundle writes, that
// it writes each as a regular 0644 file holding the bundle without
// following what was there, and that it leaves nothing staged.
func TestPlaceBundle(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	l := is.Layout
	data := []byte("-----BEGIN CERTIFICATE-----\nbundle\n-----END CERTIFICATE-----\n")
	rec := func(name string) store.Record {
		return store.Record{Role: "worker", Name: name, CAFile: l.Endpoint("worker", name).CA}
	}
	write := func(name string, b []byte, mode fs.FileMode) {
		t.Helper()
		mustMkdir(t, l.CertDir("worker", name))
		if err := os.WriteFile(l.Endpoint("worker", name).CA, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(l.Endpoint("worker", name).CA, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("same", data, 0o644)
	write("old", []byte("old bundle"), 0o644)
	write("private", data, 0o600)
	outside := filepath.Join(t.TempDir(), "target.pem")
	if err := os.WriteFile(outside, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustMkdir(t, l.CertDir("worker", "link"))
	if err := os.Symlink(outside, l.Endpoint("worker", "link").CA); err != nil {
		t.Fatal(err)
	}
	write("nocafile", []byte("left alone"), 0o644)
	sameIno, _ := inode(t, l.Endpoint("worker", "same").CA)
	noCA := rec("nocafile")
	noCA.CAFile = ""
	recs := []store.Record{rec("same"), rec("old"), rec("private"), rec("link"), rec("gone"), noCA, rec("old")}

	n, err := PlaceBundle(l, data, recs)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("wrote %d files, want 4 (old, private, link, gone)", n)
	}
	for _, name := range []string{"same", "old", "private", "link", "gone"} {
		p := l.Endpoint("worker", name).CA
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want a regular 0644 file", name, fi.Mode())
		}
		if got := mustRead(t, p); !bytes.Equal(got, data) {
			t.Errorf("%s holds %q", name, got)
		}
	}
	if ino, _ := inode(t, l.Endpoint("worker", "same").CA); ino != sameIno {
		t.Error("a bundle that held the data already was written again")
	}
	if got := mustRead(t, outside); string(got) != "outside" {
		t.Errorf("the link's target was written: %q", got)
	}
	if got := mustRead(t, l.Endpoint("worker", "nocafile").CA); string(got) != "left alone" {
		t.Errorf("an endpoint without a CA file got %q", got)
	}
	des, err := os.ReadDir(l.CertsDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".staging-") {
			t.Errorf("left behind: %s", de.Name())
		}
	}
	if n, err := PlaceBundle(l, data, recs); err != nil || n != 0 {
		t.Errorf("again: wrote %d, %v; want 0", n, err)
	}
}

// TestPlaceBundleRefusesLinkedDirs checks that a linked endpoint or role
// directory stops PlaceBundle before anything is written through it.
func TestPlaceBundleRefusesLinkedDirs(t *testing.T) {
	for _, linked := range []string{"endpoint", "role"} {
		t.Run(linked, func(t *testing.T) {
			is := mustIssuer(t, ca.Options{})
			l := is.Layout
			elsewhere := t.TempDir()
			dir := l.CertDir("worker", "n1")
			if linked == "role" {
				dir = l.RoleDir("worker")
			}
			mustMkdir(t, filepath.Dir(dir))
			if err := os.Symlink(elsewhere, dir); err != nil {
				t.Fatal(err)
			}
			rec := store.Record{Role: "worker", Name: "n1", CAFile: l.Endpoint("worker", "n1").CA}
			if _, err := PlaceBundle(l, []byte("bundle"), []store.Record{rec}); err == nil {
				t.Fatal("PlaceBundle wrote through a linked directory")
			}
			if des, _ := os.ReadDir(elsewhere); len(des) != 0 {
				t.Errorf("written through the link: %v", des)
			}
		})
	}
}

// TestRecoverDiscardsStagedBundles checks that what a PlaceBundle killed
// before its renames leaves (bundle files staged under no serial, the
// settled marker off) is removed by the next run's Recover.
func TestRecoverDiscardsStagedBundles(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	staging := is.Layout.StagingDir("0123456789abcdef")
	mustMkdir(t, staging)
	if err := os.WriteFile(filepath.Join(staging, "bundle-0.ca.pem"), []byte("bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(is.Layout.Settled())
	if _, err := is.Recover(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(staging); !os.IsNotExist(err) {
		t.Errorf("staging directory still there: %v", err)
	}
}
