package store_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
)

// TestOpenRefusesShared: an inventory others may write, or one in a
// directory they may write (without the sticky bit), is refused, read-only
// or not; the owner's modes and a sticky directory are accepted.
func TestOpenRefusesShared(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		fileMode, dirMod os.FileMode
		ok               bool
	}{
		{"private", 0o600, 0o700, true},
		{"readable by all", 0o644, 0o755, true},
		{"group-writable file", 0o660, 0o700, false},
		{"world-writable file", 0o606, 0o700, false},
		{"group-writable directory", 0o600, 0o770, false},
		{"world-writable directory", 0o600, 0o777, false},
		{"sticky world-writable directory", 0o600, 0o777 | os.ModeSticky, true},
	}
	for _, tt := range tests {
		for _, ro := range []bool{false, true} {
			t.Run(tt.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "home")
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "inventory.db")
				s := mustOpen(t, path, store.Options{})
				mustPut(t, s, rec("1", "worker", "n1", t0))
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				mustChmod(t, path, tt.fileMode)
				mustChmod(t, dir, tt.dirMod)
				t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
				s2, err := store.Open(path, store.Options{ReadOnly: ro})
				if tt.ok {
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					_ = s2.Close()
					return
				}
				wantErr(t, err, store.ErrPermissions)
			})
		}
	}
}

func mustChmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// TestOpenFollowsReplacedFile: a process waiting for the lock while the
// inventory is renamed over (as a restore does) opens the new file, not the
// one it started waiting on.
func TestOpenFollowsReplacedFile(t *testing.T) {
	t.Parallel()
	s, path := newStore(t)
	mustPut(t, s, rec("1", "worker", "old", t0))
	other := filepath.Join(filepath.Dir(path), "other.db")
	o := mustOpen(t, other, store.Options{})
	mustPut(t, o, rec("2", "worker", "new", t0))
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	type result struct {
		s   *store.Store
		err error
	}
	done := make(chan result)
	go func() {
		s2, err := store.Open(path, store.Options{Timeout: time.Minute, Now: clock})
		done <- result{s2, err}
	}()
	// Give the opener time to block on the lock of the old file. If it has
	// not started yet it opens the new file directly, and the test passes
	// without exercising the reopen; it cannot pass wrongly.
	time.Sleep(100 * time.Millisecond)
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Open: %v", r.err)
	}
	defer r.s.Close()
	if _, err := r.s.Cert("2"); err != nil {
		t.Errorf("the waiting Open did not follow the renamed file: %v", err)
	}
}
