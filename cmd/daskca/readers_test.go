package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/testtier"
	"github.com/daskca/daskca/store"
)

// TestReadersDuringWriter: while another process holds the inventory open
// for writing (a long bulk run), readers work at once; a second writer waits
// --wait with a visible message, then says what to do.
func TestReadersDuringWriter(t *testing.T) {
	t.Parallel()
	home := filepath.Join(t.TempDir(), "home")
	testtier.QuickKeys(t, home)
	now := time.Now()
	for _, args := range [][]string{{"init", "--name", "Readers CA"}, {"issue", "worker", "w1"}} {
		if code, _, stderr := runCLIAt(t, home, now, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	w, err := store.Open(filepath.Join(home, "inventory.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	backup := filepath.Join(t.TempDir(), "b.db")
	for _, args := range [][]string{{"list"}, {"status"}, {"backup", backup}, {"inventory", "check"}, {"show", "w1"}} {
		t.Run(args[0], func(t *testing.T) {
			code, out, stderr := runCLIAt(t, home, now, append([]string{"--wait", "1s"}, args...)...)
			if code != 0 {
				t.Fatalf("exit %d during a writer:\n%s%s", code, out, stderr)
			}
		})
	}
	t.Run("crl waits", func(t *testing.T) {
		code, _, stderr := runCLIAt(t, home, now, "--wait", "1s", "crl")
		if code != 1 || !strings.Contains(stderr, "waiting up to 1s") || !strings.Contains(stderr, "--wait 10m") {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
	})
}

// TestStatusCannotJudge: status exits critical (2) or unknown (3), never
// warning (1), when it cannot judge the home.
func TestStatusCannotJudge(t *testing.T) {
	t.Parallel()
	now := time.Now()
	mk := func(t *testing.T) string {
		home := filepath.Join(t.TempDir(), "home")
		testtier.QuickKeys(t, home)
		if code, _, stderr := runCLIAt(t, home, now, "init", "--name", "Judge CA"); code != 0 {
			t.Fatalf("init: %s", stderr)
		}
		return home
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, home string)
		code  int
	}{
		{"missing inventory", func(t *testing.T, home string) {
			if err := os.Remove(filepath.Join(home, "inventory.db")); err != nil {
				t.Fatal(err)
			}
		}, 2},
		{"corrupt inventory", func(t *testing.T, home string) {
			if err := os.WriteFile(filepath.Join(home, "inventory.db"), []byte(strings.Repeat("x", 8192)), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 2},
		{"home writable by others", func(t *testing.T, home string) {
			if err := os.Chmod(home, 0o777); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(home, 0o700) })
		}, 2},
		{"locked past --wait", func(t *testing.T, home string) {
			f, err := os.Open(filepath.Join(home, "inventory.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
				t.Fatal(err)
			}
		}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := mk(t)
			tt.setup(t, home)
			for _, o := range []string{"table", "prom"} {
				code, _, stderr := runCLIAt(t, home, now, "--wait", "1s", "status", "-o", o)
				if code != tt.code || !strings.Contains(stderr, "daskca: error:") {
					t.Errorf("-o %s: exit %d, want %d; stderr:\n%s", o, code, tt.code, stderr)
				}
			}
		})
	}
}
