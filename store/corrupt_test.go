package store_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
)

// sampleDB returns the bytes of a closed inventory holding n records.
func sampleDB(t testing.TB, n int) []byte {
	t.Helper()
	s, path := newStore(t)
	mustFill(t, s, n, 1)
	if _, err := s.Revoke(firstSerial(t, s), "keyCompromise", time.Time{}, "test"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstSerial(t testing.TB, s *store.Store) string {
	t.Helper()
	all := serials(t, func(fn func(store.Record) error) error { return s.List(store.Filter{}, fn) })
	if len(all) == 0 {
		t.Fatal("empty inventory")
	}
	return all[0]
}

func writeFile(t testing.TB, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inventory.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenCorrupt(t *testing.T) {
	t.Parallel()
	good := sampleDB(t, 300)
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	noise := bytes.Clone(good)
	copy(noise[8192:], random) // every page after the two metas
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"random bytes", random},
		{"text", []byte("this is not a database\n")},
		{"truncated to half", good[:len(good)/2]},
		{"truncated to three pages", good[:3*4096]},
		{"truncated mid meta", good[:100]},
		{"pages overwritten", noise},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.file)
			for _, ro := range []bool{false, true} {
				s, err := store.Open(path, store.Options{ReadOnly: ro})
				if err == nil {
					s.Close()
					t.Fatalf("read-only=%v: Open succeeded", ro)
				}
				wantErr(t, err, store.ErrCorrupt)
			}
			wantErr(t, store.VerifyFile(path), store.ErrCorrupt)
		})
	}
}

// TestEveryPageDamaged garbles one page at a time: opening, reading and
// checking must fail cleanly or find nothing wrong (a free page), never
// panic or hang.
func TestEveryPageDamaged(t *testing.T) {
	t.Parallel()
	good := sampleDB(t, 200)
	const ps = 4096
	rng := rand.New(rand.NewPCG(3, 4))
	failures := 0
	for p := 0; p < len(good)/ps; p++ {
		b := bytes.Clone(good)
		for i := p * ps; i < p*ps+64; i++ {
			b[i] = byte(rng.Uint32())
		}
		if exerciseFile(t, writeFile(t, b)) != nil {
			failures++
		}
	}
	if failures == 0 {
		t.Fatal("no damaged page was noticed")
	}
}

// exerciseFile opens a file and uses every read path; it returns the first
// error and fails the test on errors that are not ErrCorrupt or ErrSchema.
func exerciseFile(t testing.TB, path string) error {
	t.Helper()
	s, err := store.Open(path, store.Options{ReadOnly: true, Timeout: -1})
	if err != nil {
		if !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, store.ErrSchema) {
			t.Fatalf("Open: unexpected error %v", err)
		}
		return err
	}
	defer s.Close()
	var errs []error
	nop := func(store.Record) error { return nil }
	errs = append(errs, s.List(store.Filter{}, nop), s.List(store.Filter{Role: "worker"}, nop),
		s.ExpiringBefore(t0.Add(1000*time.Hour), nop), s.Events(func(store.Event) error { return nil }))
	_, err = s.ByName("worker-0000002")
	errs = append(errs, err)
	_, err = s.Count()
	errs = append(errs, err)
	rep, err := s.Check()
	errs = append(errs, err)
	if !rep.OK() {
		errs = append(errs, store.ErrCorrupt)
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("unexpected error %v", err)
		}
	}
	return errors.Join(errs...)
}

func FuzzOpen(f *testing.F) {
	good := sampleDB(f, 20)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("not a database"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return // an empty file is covered by TestOpenCorrupt
		}
		path := writeFile(t, b)
		_ = exerciseFile(t, path)
		s, err := store.Open(path, store.Options{Timeout: -1, Now: clock})
		if err != nil {
			return
		}
		defer s.Close()
		_ = issueOne(s, rec("abc", "worker", "fuzz", t0), "", "fuzz")
	})
}
