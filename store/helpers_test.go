package store_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
	"github.com/daskca/daskca/store/storetest"
)

// t0 is the pinned clock of these tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return t0 }

func mustOpen(t testing.TB, path string, opts store.Options) *store.Store {
	t.Helper()
	if opts.Now == nil {
		opts.Now = clock
	}
	s, err := store.Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newStore(t testing.TB) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inventory.db")
	return mustOpen(t, path, store.Options{}), path
}

// rec makes a small valid record.
func rec(serial, role, name string, notAfter time.Time) store.Record {
	return store.Record{
		Serial: serial, Role: role, Name: name, Status: store.Active,
		NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter,
		DNS: []string{name + ".example.test"}, IPs: []string{"10.0.0.1"},
		URI: "spiffe://example.test/dask/" + role + "/" + name, FingerprintSHA256: "ff" + serial,
		KeyType: "ECDSA-P256", Issuer: "abcd", DER: []byte{0x30, 0x03, 0x02, 0x01, 0x01},
		IssuedAt: notAfter.Add(-90 * 24 * time.Hour),
	}
}

func mustPut(t testing.TB, s *store.Store, recs ...store.Record) {
	t.Helper()
	if err := put(s, recs, "test"); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func mustIssue(t testing.TB, s *store.Store, r store.Record, replace string) {
	t.Helper()
	if err := issueOne(s, r, replace, "test"); err != nil {
		t.Fatalf("Issue(%s, replace %q): %v", r.Serial, replace, err)
	}
}

func mustCert(t testing.TB, s *store.Store, serial string) store.Record {
	t.Helper()
	r, err := s.Cert(serial)
	if err != nil {
		t.Fatalf("Cert(%s): %v", serial, err)
	}
	return r
}

func mustFill(t testing.TB, s *store.Store, n int, seed uint64) {
	t.Helper()
	if err := storetest.Fill(s, n, storetest.Options{Seed: seed, Now: t0}); err != nil {
		t.Fatalf("Fill: %v", err)
	}
}

func mustCheckOK(t testing.TB, s *store.Store) store.Report {
	t.Helper()
	rep, err := s.Check()
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("Check found problems: %v", rep.Problems)
	}
	return rep
}

// serials collects the serials fn streams.
func serials(t testing.TB, walk func(func(store.Record) error) error) []string {
	t.Helper()
	var out []string
	if err := walk(func(r store.Record) error { out = append(out, r.Serial); return nil }); err != nil {
		t.Fatalf("walk: %v", err)
	}
	return out
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

// put records recs as imported, in one transaction.
func put(s *store.Store, recs []store.Record, actor string) error {
	return s.Apply(store.Batch{Issue: store.Imports(recs)}, actor)
}

// issueOne records r as issued, replacing the record of serial replace.
func issueOne(s *store.Store, r store.Record, replace, actor string) error {
	return s.Apply(store.Batch{Issue: []store.Replacement{{Record: r, Replaces: replace}}}, actor)
}
