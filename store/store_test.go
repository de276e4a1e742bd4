package store_test

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesPrivateFile(t *testing.T) {
	t.Parallel()
	s, path := newStore(t)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %v, want 0600", perm)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	if n, err := s.Count(); err != nil || n != 0 {
		t.Errorf("Count() = %d, %v; want 0", n, err)
	}
	mustCheckOK(t, s)
}

func TestOpenReadOnlyMissing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "none.db")
	_, err := store.Open(path, store.Options{ReadOnly: true})
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, err, fs.ErrNotExist)
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only Open created the file: %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	s, path := newStore(t)
	mustPut(t, s, rec("a1", "worker", "w1", t0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err := s.Cert("a1")
	wantErr(t, err, store.ErrClosed)
	for _, ro := range []bool{false, true} {
		s2 := mustOpen(t, path, store.Options{ReadOnly: ro})
		if got := mustCert(t, s2, "a1"); got.Name != "w1" {
			t.Errorf("read-only=%v: Name = %q", ro, got.Name)
		}
		if ro {
			wantErr(t, put(s2, []store.Record{rec("b2", "worker", "w2", t0)}, "t"), store.ErrReadOnly)
			wantErr(t, s2.SetMeta("k", nil), store.ErrReadOnly)
		}
		s2.Close()
	}
}

func TestLockTimeout(t *testing.T) {
	t.Parallel()
	_, path := newStore(t) // an open writer
	tests := []struct {
		name string
		opts store.Options
	}{
		{"writer", store.Options{Timeout: 150 * time.Millisecond}},
		{"try once", store.Options{Timeout: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			waited := 0
			tt.opts.Waiting = func() { waited++ }
			s, err := store.Open(path, tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("a second writer opened the inventory")
			}
			wantErr(t, err, store.ErrLocked)
			if want := map[bool]int{true: 1, false: 0}[tt.opts.Timeout > 0]; waited != want {
				t.Errorf("Waiting called %d times, want %d", waited, want)
			}
		})
	}
}

// TestReadersDuringWriter: an open writer (a long bulk run) does not shut
// readers out: they open between its transactions, and its next write waits
// until they have closed.
func TestReadersDuringWriter(t *testing.T) {
	t.Parallel()
	w, path := newStore(t)
	mustPut(t, w, rec("1", "client", "c1", t0))
	r := mustOpen(t, path, store.Options{ReadOnly: true, Timeout: -1})
	mustCert(t, r, "1")
	done := make(chan error, 1)
	go func() { done <- put(w, []store.Record{rec("2", "client", "c2", t0)}, "test") }()
	r2 := mustOpen(t, path, store.Options{ReadOnly: true, Timeout: -1}) // readers share
	if n, err := r2.Count(); err != nil || n < 1 {
		t.Errorf("Count = %d, %v", n, err)
	}
	r2.Close()
	select {
	case err := <-done:
		t.Fatalf("the write went ahead while a reader had the file open (err %v)", err)
	default:
	}
	r.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r3 := mustOpen(t, path, store.Options{ReadOnly: true, Timeout: -1})
	defer r3.Close()
	mustCert(t, r3, "2")
	mustCheckOK(t, r3)
	_, err := store.Open(path, store.Options{Timeout: -1})
	wantErr(t, err, store.ErrLocked) // still one writer at a time
}

func TestReadersShareLock(t *testing.T) {
	t.Parallel()
	s, path := newStore(t)
	mustPut(t, s, rec("1", "client", "c", t0))
	s.Close()
	r1 := mustOpen(t, path, store.Options{ReadOnly: true})
	r2 := mustOpen(t, path, store.Options{ReadOnly: true, Timeout: -1})
	mustCert(t, r1, "1")
	mustCert(t, r2, "1")
	_, err := store.Open(path, store.Options{Timeout: -1})
	wantErr(t, err, store.ErrLocked)
}

// boltUpdate edits a closed inventory behind the store's back.
func boltUpdate(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*bolt.Tx) error
		want error
	}{
		{"newer version", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, store.SchemaVersion+1))
		}, store.ErrSchema},
		{"no version", func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("schema")) }, store.ErrSchema},
		{"bad version", func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{1}) }, store.ErrCorrupt},
		{"missing bucket", func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("idx.role")) }, store.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := newStore(t)
			s.Close()
			boltUpdate(t, path, tt.edit)
			for _, ro := range []bool{false, true} {
				_, err := store.Open(path, store.Options{ReadOnly: ro})
				wantErr(t, err, tt.want)
			}
		})
	}
}

func TestForeignBoltFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "other.db")
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("something-else"))
		return err
	})
	_, err := store.Open(path, store.Options{})
	wantErr(t, err, store.ErrSchema)

	empty := filepath.Join(t.TempDir(), "empty-bolt.db")
	boltUpdate(t, empty, func(*bolt.Tx) error { return nil })
	_, err = store.Open(empty, store.Options{ReadOnly: true})
	wantErr(t, err, store.ErrSchema)
	mustOpen(t, empty, store.Options{}) // an empty bbolt file becomes an inventory
}

// TestNextCounterAbove: a counter never goes back, and a floor from outside
// the inventory (the CRL numbers a home published) lifts it.
func TestNextCounterAbove(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	steps := []struct {
		floor, want uint64
	}{{0, 1}, {0, 2}, {10, 11}, {5, 12}, {12, 13}}
	for _, st := range steps {
		n, err := s.NextCounterAbove("crl-number", st.floor)
		if err != nil || n != st.want {
			t.Fatalf("NextCounterAbove(%d) = %d, %v; want %d", st.floor, n, err, st.want)
		}
		if c, err := s.Counter("crl-number"); err != nil || c != st.want {
			t.Fatalf("Counter = %d, %v; want %d", c, err, st.want)
		}
	}
}
