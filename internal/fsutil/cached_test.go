package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCached: Cached reads the file once while it is unchanged, again as
// soon as another file is renamed into place (even one of the same size
// and modification time) or it is written in place, and never returns
// what it kept once the file is gone or is a link.
func TestCached(t *testing.T) {
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// replace renames a new file with data over path, as daskca writes.
	replace := func(t *testing.T, path, data string) {
		t.Helper()
		if err := WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	type step struct {
		change    func(t *testing.T, path string) // nil: none
		want      string
		wantErr   error
		wantReads int // reads of the file so far
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"unchanged is read once", []step{
			{nil, "crl one", nil, 1},
			{nil, "crl one", nil, 1},
			{nil, "crl one", nil, 1},
		}},
		{"renamed into place, same size and time", []step{
			{nil, "crl one", nil, 1},
			{func(t *testing.T, p string) { replace(t, p, "crl two") }, "crl two", nil, 2},
			{nil, "crl two", nil, 2},
		}},
		{"written in place, longer", []step{
			{nil, "crl one", nil, 1},
			{func(t *testing.T, p string) {
				if err := os.WriteFile(p, []byte("crl one, longer"), 0o644); err != nil {
					t.Fatal(err)
				}
			}, "crl one, longer", nil, 2},
		}},
		{"touched", []step{
			{nil, "crl one", nil, 1},
			{func(t *testing.T, p string) {
				if err := os.Chtimes(p, mtime, mtime.Add(time.Second)); err != nil {
					t.Fatal(err)
				}
			}, "crl one", nil, 2},
		}},
		{"removed, then back", []step{
			{nil, "crl one", nil, 1},
			{func(t *testing.T, p string) {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}, "", fs.ErrNotExist, 1},
			{func(t *testing.T, p string) { replace(t, p, "crl one") }, "crl one", nil, 2},
		}},
		{"replaced by a link", []step{
			{nil, "crl one", nil, 1},
			{func(t *testing.T, p string) {
				other := filepath.Join(filepath.Dir(p), "other.pem")
				replace(t, other, "crl two")
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(other, p); err != nil {
					t.Fatal(err)
				}
			}, "", ErrNotRegular, 2},
			{nil, "", ErrNotRegular, 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "crl.pem")
			replace(t, path, "crl one")
			c := NewCached(path)
			reads := 0
			c.read = func(p string) ([]byte, fs.FileInfo, error) {
				reads++
				return readRegular(p)
			}
			for i, s := range tt.steps {
				if s.change != nil {
					s.change(t, path)
				}
				got, err := c.Read()
				if s.wantErr != nil {
					if !errors.Is(err, s.wantErr) || got != nil {
						t.Fatalf("step %d: got %q, %v; want %v", i, got, err, s.wantErr)
					}
				} else if err != nil || string(got) != s.want {
					t.Fatalf("step %d: got %q, %v; want %q", i, got, err, s.want)
				}
				if reads != s.wantReads {
					t.Fatalf("step %d: %d reads, want %d", i, reads, s.wantReads)
				}
			}
		})
	}
}
