package lifecycle

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

func mustLayout(t *testing.T, dir string) home.Layout {
	t.Helper()
	l, err := home.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// insecureCA is a CA whose Save needs no password.
func insecureCA(t *testing.T) *ca.Authority {
	t.Helper()
	a, err := ca.New(ca.Options{Name: "Home CA", TrustDomain: "home.test", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	a.Insecure = true
	return a
}

// entries lists the names in dir, "" when dir does not exist.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestCreateHome: a new home holds the CA, the bundle and an inventory and
// is no longer fresh; a failing step leaves nothing of what CreateHome made,
// in a directory it created as in one that was there before.
func TestCreateHome(t *testing.T) {
	t.Parallel()
	t.Run("new directory", func(t *testing.T) {
		t.Parallel()
		l := mustLayout(t, filepath.Join(t.TempDir(), "home"))
		if err := CheckFresh(l); err != nil {
			t.Fatalf("CheckFresh on a missing directory: %v", err)
		}
		if err := CreateHome(l, insecureCA(t), nil); err != nil {
			t.Fatal(err)
		}
		if got, want := entries(t, l.Dir), []string{"ca", "ca-bundle.pem", "inventory.db", "inventory.db.lock"}; !slices.Equal(got, want) {
			t.Errorf("home holds %v, want %v", got, want)
		}
		if _, err := ca.Load(l.CADir(), nil); err != nil {
			t.Errorf("loading the CA: %v", err)
		}
		s, err := store.Open(l.Inventory(), store.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if err := CheckFresh(l); !errors.Is(err, ErrHomeExists) {
			t.Errorf("CheckFresh on a home: %v, want ErrHomeExists", err)
		}
	})
	t.Run("failure in a new directory", func(t *testing.T) {
		t.Parallel()
		l := mustLayout(t, filepath.Join(t.TempDir(), "home"))
		a := insecureCA(t)
		a.Insecure = false // and no password: Save refuses
		if err := CreateHome(l, a, nil); !errors.Is(err, ca.ErrNoPassword) {
			t.Fatalf("CreateHome without a password: %v, want ca.ErrNoPassword", err)
		}
		if _, err := os.Lstat(l.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the home directory CreateHome made is still there: %v", err)
		}
	})
	t.Run("failure in an existing directory", func(t *testing.T) {
		t.Parallel()
		l := mustLayout(t, t.TempDir())
		if err := os.WriteFile(filepath.Join(l.Dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		// A directory where the bundle goes makes the step after Save fail.
		if err := os.MkdirAll(filepath.Join(l.Bundle(), "in-the-way"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := CreateHome(l, insecureCA(t), nil); err == nil {
			t.Fatal("CreateHome succeeded with a directory in place of the bundle")
		}
		if got, want := entries(t, l.Dir), []string{"ca-bundle.pem", "notes.txt"}; !slices.Equal(got, want) {
			t.Errorf("after the failure the directory holds %v, want what was there before, %v", got, want)
		}
	})
	t.Run("directory others can write", func(t *testing.T) {
		t.Parallel()
		l := mustLayout(t, t.TempDir())
		if err := os.Chmod(l.Dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := CreateHome(l, insecureCA(t), nil); !errors.Is(err, home.ErrUnsafe) {
			t.Fatalf("CreateHome in a 0777 directory: %v, want home.ErrUnsafe", err)
		}
		if got := entries(t, l.Dir); len(got) != 0 {
			t.Errorf("CreateHome refused but wrote %v", got)
		}
	})
}

// TestOpenWriter: opening a home for writing first removes the pending
// directory of a certificate the inventory never recorded, and a home
// another writer holds is refused with store.ErrLocked.
func TestOpenWriter(t *testing.T) {
	t.Parallel()
	l := mustLayout(t, filepath.Join(t.TempDir(), "home"))
	if err := CreateHome(l, insecureCA(t), nil); err != nil {
		t.Fatal(err)
	}
	stale := l.NewEndpointPendingDir("worker", "00c0ffee")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "cert.pem"), []byte("never recorded"), 0o644); err != nil {
		t.Fatal(err)
	}
	// ReadOnly is ignored: the second writer below finds the lock taken.
	s, err := OpenWriter(l, store.Options{ReadOnly: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the pending directory of an unrecorded serial is still there: %v", err)
	}
	if _, err := OpenWriter(l, store.Options{Timeout: 10 * time.Millisecond}, nil); !errors.Is(err, store.ErrLocked) {
		t.Errorf("a second writer: %v, want store.ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
