package homefiles_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/homefiles"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/internal/testkit/testtier"
	"github.com/daskca/daskca/issue"
	"github.com/daskca/daskca/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// mustHome builds a real home: a CA saved in ca/, an inventory,
// and workers w1 and w2 issued with their files.
func mustHome(t *testing.T, name string) (home.Layout, *store.Store) {
	t.Helper()
	l, err := home.New(filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	testtier.QuickKeys(t, l.Dir)
	a, err := ca.New(ca.Options{Name: name, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Save(l.CADir(), []byte("correct-horse-battery")); err != nil {
		t.Fatal(err)
	}
	if err := fsutil.WriteFile(l.Bundle(), a.BundlePEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(l.Inventory(), store.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	is := &issue.Issuer{CA: a, Store: s, Layout: l, Now: func() time.Time { return t0 }, Actor: "test"}
	for _, n := range []string{"w1", "w2"} {
		if _, err := is.Issue(context.Background(), issue.Request{Role: identity.Worker, Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	return l, s
}

func mustCheck(t *testing.T, l home.Layout, s *store.Store) homefiles.Report {
	t.Helper()
	rep, err := homefiles.Check(l, s)
	if err != nil {
		t.Fatalf("homefiles.Check: %v", err)
	}
	return rep
}

func TestCheckSoundHome(t *testing.T) {
	l, s := mustHome(t, "Sound CA")
	rep := mustCheck(t, l, s)
	if !rep.OK() || len(rep.Notes) != 0 || rep.Records != 2 || rep.Verified != 2 || rep.Active != 2 {
		t.Errorf("report %+v, want 2 records verified and active, no problem", rep)
	}
}

// TestCheckFindsDamage damages one file of an endpoint and expects homefiles.Check to
// name it.
func TestCheckFindsDamage(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, l home.Layout, s *store.Store)
		want   string // in a problem; "" means a note and no problem
	}{
		{"certificate of another endpoint", func(t *testing.T, l home.Layout, _ *store.Store) {
			copyFile(t, l.Endpoint("worker", "w2").Cert, l.Endpoint("worker", "w1").Cert)
		}, "not the recorded certificate"},
		{"key of another endpoint", func(t *testing.T, l home.Layout, _ *store.Store) {
			copyFile(t, l.Endpoint("worker", "w2").Key, l.Endpoint("worker", "w1").Key)
		}, "does not hold the key"},
		{"truncated certificate", func(t *testing.T, l home.Layout, _ *store.Store) {
			truncate(t, l.Endpoint("worker", "w1").Cert)
		}, "cut short"},
		{"truncated key", func(t *testing.T, l home.Layout, _ *store.Store) {
			truncate(t, l.Endpoint("worker", "w1").Key)
		}, "cut short"},
		{"key readable by others", func(t *testing.T, l home.Layout, _ *store.Store) {
			if err := os.Chmod(l.Endpoint("worker", "w1").Key, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "has mode 0644"},
		{"missing certificate", func(t *testing.T, l home.Layout, _ *store.Store) {
			if err := os.Remove(l.Endpoint("worker", "w1").Cert); err != nil {
				t.Fatal(err)
			}
		}, "key.pem without cert.pem"},
		{"interrupted replacement", func(t *testing.T, l home.Layout, s *store.Store) {
			copyFile(t, l.Endpoint("worker", "w2").Cert, l.Endpoint("worker", "w1").Cert)
			rec, _, err := s.Active("worker", "w1")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(l.PendingDir("worker", "w1", rec.Serial), 0o700); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"interrupted bulk issue of a new endpoint", func(t *testing.T, l home.Layout, s *store.Store) {
			rec, _, err := s.Active("worker", "w1")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(l.CertDir("worker", "w1"), l.NewEndpointPendingDir("worker", rec.Serial)); err != nil {
				t.Fatal(err)
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := mustHome(t, "Damaged CA")
			tt.damage(t, l, s)
			rep := mustCheck(t, l, s)
			if tt.want == "" {
				if !rep.OK() || len(rep.Notes) == 0 {
					t.Errorf("want a note and no problem, got %+v", rep)
				}
				return
			}
			if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), tt.want) {
				t.Errorf("problems %q, want one containing %q", rep.Problems, tt.want)
			}
		})
	}
}

func TestVerifyBackupAndRestore(t *testing.T) {
	l, s := mustHome(t, "Our CA")
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := s.BackupFile(backup); err != nil {
		t.Fatal(err)
	}
	other, os2 := mustHome(t, "Other CA")
	foreign := filepath.Join(t.TempDir(), "foreign.db")
	if _, err := os2.BackupFile(foreign); err != nil {
		t.Fatal(err)
	}
	if _, err := homefiles.VerifyBackup(l, foreign); !errors.Is(err, homefiles.ErrForeign) {
		t.Errorf("homefiles.VerifyBackup(another CA's inventory) = %v, want homefiles.ErrForeign", err)
	}
	if _, err := homefiles.VerifyBackup(other, backup); !errors.Is(err, homefiles.ErrForeign) {
		t.Errorf("homefiles.VerifyBackup(our inventory, other home) = %v, want homefiles.ErrForeign", err)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.db")
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := homefiles.VerifyBackup(l, truncated); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("homefiles.VerifyBackup(truncated) = %v, want ErrCorrupt", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(l.Inventory())
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{foreign, truncated} {
		if _, err := homefiles.Restore(l, bad, homefiles.RestoreOptions{Now: t0}); err == nil {
			t.Errorf("homefiles.Restore(%s) succeeded", bad)
		}
	}
	if after, _ := os.ReadFile(l.Inventory()); string(after) != string(before) {
		t.Error("a refused restore changed the inventory")
	}
	v, err := homefiles.Restore(l, backup, homefiles.RestoreOptions{Now: t0})
	if err != nil || v.Records != 2 {
		t.Fatalf("homefiles.Restore = %+v, %v", v, err)
	}
	aside := v.Aside
	if kept, err := os.ReadFile(aside); err != nil || string(kept) != string(before) {
		t.Errorf("the previous inventory is not kept at %s: %v", aside, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(l.Dir, ".inventory.db.restore-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}
