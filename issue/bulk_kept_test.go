package issue

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/store"
)

func TestKeptBundlesHolds(t *testing.T) {
	bundle := []byte("-----BEGIN CERTIFICATE-----\nroots\n-----END CERTIFICATE-----\n")
	other := []byte("-----BEGIN CERTIFICATE-----\nROOTS\n-----END CERTIFICATE-----\n")
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string)
		want  bool
	}{
		{"the same bytes, mode 0644", func(t *testing.T, p string) { mustWriteMode(t, p, bundle, 0o644) }, true},
		{"other bytes of the same size", func(t *testing.T, p string) { mustWriteMode(t, p, other, 0o644) }, false},
		{"a prefix", func(t *testing.T, p string) { mustWriteMode(t, p, bundle[:10], 0o644) }, false},
		{"mode 0600", func(t *testing.T, p string) { mustWriteMode(t, p, bundle, 0o600) }, false},
		{"mode 0666", func(t *testing.T, p string) { mustWriteMode(t, p, bundle, 0o666) }, false},
		{"missing", func(*testing.T, string) {}, false},
		{"a link to the same bytes", func(t *testing.T, p string) {
			target := filepath.Join(filepath.Dir(p), "target")
			mustWriteMode(t, target, bundle, 0o644)
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"a directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"a FIFO", func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "ca.pem")
			tc.setup(t, p)
			k := &keptBundles{data: bundle}
			for i := range 2 { // the second answer comes from what the first learnt
				if got := k.holds(p); got != tc.want {
					t.Errorf("holds, call %d = %v, want %v", i+1, got, tc.want)
				}
			}
		})
	}
}

// TestKeptBundlesNoticesAChange: a file found to hold the bundle and then
// rewritten in place (same inode, same size) is read again.
func TestKeptBundlesNoticesAChange(t *testing.T) {
	bundle := []byte("roots-1\n")
	p := filepath.Join(t.TempDir(), "ca.pem")
	mustWriteMode(t, p, bundle, 0o644)
	k := &keptBundles{data: bundle}
	if !k.holds(p) {
		t.Fatal("the bundle itself does not count")
	}
	if err := os.WriteFile(p, []byte("roots-2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second) // a coarse clock may give the same mtime
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	if k.holds(p) {
		t.Error("a bundle rewritten in place still counts as the run's")
	}
}

// TestReplacementKeepsTheBundle: re-issuing leaves an endpoint's bundle
// that already is the run's in place (the same file), and replaces one
// that differs, is a link or has another mode.
func TestReplacementKeepsTheBundle(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	ctx := context.Background()
	var olds []store.Record
	for _, n := range []string{"kept", "changed", "linked", "private"} {
		rec, err := is.Issue(ctx, Request{Role: identity.Worker, Name: n, DNS: []string{n + ".test.dask"}})
		if err != nil {
			t.Fatal(err)
		}
		olds = append(olds, rec)
	}
	bundle := mustRead(t, olds[0].CAFile)
	if err := os.Remove(olds[1].CAFile); err != nil {
		t.Fatal(err)
	}
	mustWriteMode(t, olds[1].CAFile, append([]byte("# extra\n"), bundle...), 0o644)
	target := filepath.Join(t.TempDir(), "bundle.pem")
	mustWriteMode(t, target, bundle, 0o644)
	if err := os.Remove(olds[2].CAFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, olds[2].CAFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(olds[3].CAFile, 0o600); err != nil { // each Issue wrote its own bundle file
		t.Fatal(err)
	}
	keptBefore, err := os.Lstat(olds[0].CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.IssueBulk(ctx, is.PlanReissue(olds, ReissueOptions{}), BulkOptions{Kind: store.EventRenew}); err != nil {
		t.Fatal(err)
	}
	for i, o := range olds {
		fi, err := os.Lstat(o.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: bundle has mode %v, want a regular file of mode 0644", o.Name, fi.Mode())
		}
		if got := mustRead(t, o.CAFile); string(got) != string(bundle) {
			t.Errorf("%s: bundle is\n%s\nwant\n%s", o.Name, got, bundle)
		}
		if same := os.SameFile(fi, keptBefore); same != (i == 0) {
			t.Errorf("%s: bundle kept in place = %v, want %v", o.Name, same, i == 0)
		}
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != string(bundle) {
		t.Errorf("the file the link pointed to changed: %q, %v", b, err)
	}
}

func mustWriteMode(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
