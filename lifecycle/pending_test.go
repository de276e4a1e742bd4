package lifecycle

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecoverChecksPending: crash recovery puts the files of a pending
// directory in place only when they are what the inventory records: the
// recorded certificate, its key, the home's CA certificates, regular files
// with their modes. Anything else (a planted directory with a garbage
// 0644 key, a link, another certificate's key, ...) is discarded with a
// log line and the files in place stay as they are.
func TestRecoverChecksPending(t *testing.T) {
	t.Parallel()
	readFile := func(t *testing.T, p string) []byte {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write := func(t *testing.T, p string, data []byte, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	garbageKey := []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	tests := []struct {
		name   string
		mangle func(t *testing.T, f *fixture, pending string)
		placed bool
	}{
		{"sound", func(*testing.T, *fixture, string) {}, true},
		{"garbage 0644 key", func(t *testing.T, _ *fixture, pending string) {
			write(t, filepath.Join(pending, "key.pem"), garbageKey, 0o644)
		}, false},
		{"the right key, mode 0644", func(t *testing.T, _ *fixture, pending string) {
			mustChmodFile(t, filepath.Join(pending, "key.pem"), 0o644)
		}, false},
		{"another certificate's key", func(t *testing.T, f *fixture, pending string) {
			write(t, filepath.Join(pending, "key.pem"), readFile(t, f.active("worker", "w2").KeyFile), 0o600)
		}, false},
		{"another certificate", func(t *testing.T, f *fixture, pending string) {
			write(t, filepath.Join(pending, "cert.pem"), readFile(t, f.active("worker", "w2").CertFile), 0o644)
		}, false},
		{"key.pem a link", func(t *testing.T, f *fixture, pending string) {
			k := filepath.Join(pending, "key.pem")
			if err := os.Remove(k); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(f.active("worker", "w1").KeyFile, k); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"a foreign CA in ca.pem", func(t *testing.T, _ *fixture, pending string) {
			other := newFixture(t, false)
			p := filepath.Join(pending, "ca.pem")
			write(t, p, append(readFile(t, p), readFile(t, other.m.Layout.Bundle())...), 0o644)
		}, false},
		{"an unexpected file", func(t *testing.T, _ *fixture, pending string) {
			write(t, filepath.Join(pending, "authorized_keys"), []byte("x"), 0o644)
		}, false},
		{"the pending directory a link", func(t *testing.T, _ *fixture, pending string) {
			elsewhere := filepath.Join(t.TempDir(), "planted")
			if err := os.Rename(pending, elsewhere); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, pending); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, false)
			rec := f.active("worker", "w1")
			good := readFile(t, rec.KeyFile)
			interrupted(t, f)
			pending := f.m.Layout.PendingDir(rec.Role, rec.Name, rec.Serial)
			if err := os.Mkdir(pending, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"cert.pem", "key.pem", "ca.pem"} {
				src := filepath.Join(filepath.Dir(rec.KeyFile), n)
				fi, err := os.Stat(src)
				if err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(pending, n), readFile(t, src), fi.Mode().Perm())
			}
			tt.mangle(t, f, pending)
			var log []string
			f.m.Logf = func(format string, args ...any) { log = append(log, fmt.Sprintf(format, args...)) }
			done, err := f.m.Recover()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(pending); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("pending directory left: %v", err)
			}
			if got := len(done) == 1; got != tt.placed {
				t.Errorf("placed = %v, want %v (log %q)", got, tt.placed, log)
			}
			if !tt.placed && (len(log) != 1 || !strings.Contains(log[0], "discarding")) {
				t.Errorf("log = %q, want one discarding line", log)
			}
			if !bytes.Equal(readFile(t, rec.KeyFile), good) {
				t.Error("the good key was replaced")
			}
			if fi, err := os.Lstat(rec.KeyFile); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Errorf("key.pem is %v, %v; want a regular 0600 file", fi.Mode(), err)
			}
			if _, err := tls.LoadX509KeyPair(rec.CertFile, rec.KeyFile); err != nil {
				t.Errorf("files in place do not fit: %v", err)
			}
		})
	}
}

func mustChmodFile(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}
