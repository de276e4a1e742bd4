package store_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
)

func TestPutRoundTrip(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	r := rec("1f00ab", "scheduler", "sched-1", t0.Add(time.Hour))
	r.CertFile, r.KeyFile, r.CAFile = "/c.pem", "/k.pem", "/ca.pem"
	r.Supersedes = "ab"
	r.IssuedAt = time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("X", 3600))
	mustPut(t, s, r)
	got := mustCert(t, s, "1f00ab")
	if !got.IssuedAt.Equal(r.IssuedAt) || got.IssuedAt.Location() != time.UTC {
		t.Errorf("IssuedAt = %v, want %v in UTC", got.IssuedAt, r.IssuedAt)
	}
	r.IssuedAt = r.IssuedAt.UTC()
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
	}
	got.DER[0] = 0xff // the copy is the caller's
	if again := mustCert(t, s, "1f00ab"); again.DER[0] != 0x30 {
		t.Error("changing a returned DER changed the stored record")
	}
	if n, _ := s.Count(); n != 1 {
		t.Errorf("Count = %d", n)
	}
}

func TestPutRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		recs []store.Record
		want error
	}{
		{"upper-case serial", []store.Record{rec("AB", "worker", "w", t0)}, store.ErrInvalid},
		{"leading zero", []store.Record{rec("0ab", "worker", "w", t0)}, store.ErrInvalid},
		{"0x prefix", []store.Record{rec("0xab", "worker", "w", t0)}, store.ErrInvalid},
		{"empty role", []store.Record{rec("ab", "", "w", t0)}, store.ErrInvalid},
		{"NUL in name", []store.Record{rec("ab", "worker", "w\x00x", t0)}, store.ErrInvalid},
		{"bad status", []store.Record{func() store.Record { r := rec("ab", "worker", "w", t0); r.Status = "gone"; return r }()}, store.ErrInvalid},
		{"duplicate in batch", []store.Record{rec("1", "worker", "a", t0), rec("2", "worker", "b", t0), rec("1", "worker", "c", t0)}, store.ErrExists},
		{"already stored, last in batch", []store.Record{rec("3", "worker", "a", t0), rec("99", "worker", "b", t0)}, store.ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			mustPut(t, s, rec("99", "client", "existing", t0))
			err := put(s, tt.recs, "test")
			wantErr(t, err, tt.want)
			assertOnly99(t, s)
		})
	}
}

// assertOnly99 checks that a failed write left nothing behind.
func assertOnly99(t *testing.T, s *store.Store) {
	t.Helper()
	if n, _ := s.Count(); n != 1 {
		t.Errorf("Count = %d after failed write, want 1", n)
	}
	for _, serial := range []string{"1", "2", "3"} {
		if _, err := s.Cert(serial); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Cert(%s) after failed write: %v", serial, err)
		}
	}
	if got := len(mustEvents(t, s)); got != 1 {
		t.Errorf("%d events after failed write, want 1", got)
	}
	if got, _ := s.ByName("a"); len(got) != 0 {
		t.Errorf("name index has %d entries after failed write", len(got))
	}
	mustCheckOK(t, s)
}

func mustEvents(t testing.TB, s *store.Store) []store.Event {
	t.Helper()
	var out []store.Event
	if err := s.Events(func(e store.Event) error { out = append(out, e); return nil }); err != nil {
		t.Fatalf("Events: %v", err)
	}
	return out
}

func TestIssueSupersedes(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	old := rec("a", "worker", "w1", t0.Add(24*time.Hour))
	mustIssue(t, s, old, "")
	next := rec("b", "worker", "w1", t0.Add(90*24*time.Hour))
	next.IssuedAt = time.Time{} // defaults to the clock
	mustIssue(t, s, next, "a")

	gotOld, gotNew := mustCert(t, s, "a"), mustCert(t, s, "b")
	if gotOld.Status != store.Superseded || gotOld.SupersededBy != "b" {
		t.Errorf("old: status %s, superseded by %q", gotOld.Status, gotOld.SupersededBy)
	}
	if gotNew.Status != store.Active || gotNew.Supersedes != "a" || !gotNew.IssuedAt.Equal(t0) {
		t.Errorf("new: status %s, supersedes %q, issued %v", gotNew.Status, gotNew.Supersedes, gotNew.IssuedAt)
	}
	act, ok, err := s.Active("worker", "w1")
	if err != nil || !ok || act.Serial != "b" {
		t.Errorf("Active = %s, %v, %v; want b", act.Serial, ok, err)
	}
	kinds := []store.EventKind{}
	for _, e := range mustEvents(t, s) {
		kinds = append(kinds, e.Kind)
	}
	want := []store.EventKind{store.EventIssue, store.EventIssue, store.EventSupersede}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("events %v, want %v", kinds, want)
	}

	c := rec("c", "worker", "w1", t0)
	wantErr(t, issueOne(s, c, "a", "test"), store.ErrSuperseded)
	wantErr(t, issueOne(s, c, "77", "test"), store.ErrNotFound)
	wantErr(t, issueOne(s, c, "c", "test"), store.ErrInvalid)
	wantErr(t, issueOne(s, rec("b", "worker", "w1", t0), "", "test"), store.ErrExists)
	if _, err := s.Cert("c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("failed Issue stored c: %v", err)
	}
	mustCheckOK(t, s)
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	mustIssue(t, s, rec("a", "client", "alice", t0.Add(time.Hour)), "")
	at := t0.Add(-time.Minute)
	r, err := s.Revoke("a", "keyCompromise", at, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.Revoked || !r.RevokedAt.Equal(at) || r.RevocationReason != "keyCompromise" {
		t.Errorf("Revoke returned %+v", r)
	}
	if got := mustCert(t, s, "a"); !reflect.DeepEqual(got, r) {
		t.Errorf("stored %+v, returned %+v", got, r)
	}
	again, err := s.Revoke("a", "other", time.Time{}, "ops")
	wantErr(t, err, store.ErrAlreadyRevoked)
	if again.RevocationReason != "keyCompromise" {
		t.Errorf("ErrAlreadyRevoked returned %+v", again)
	}
	_, err = s.Revoke("b", "", time.Time{}, "ops")
	wantErr(t, err, store.ErrNotFound)
	if _, ok, _ := s.Active("client", "alice"); ok {
		t.Error("revoked record is still Active")
	}
	evs := mustEvents(t, s)
	if last := evs[len(evs)-1]; last.Kind != store.EventRevoke || last.Actor != "ops" || last.Detail != "keyCompromise" || !last.Time.Equal(t0) {
		t.Errorf("last event %+v", last)
	}
	mustCheckOK(t, s)
}

func TestUpdateMovesIndexes(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	mustIssue(t, s, rec("a", "worker", "old-name", t0.Add(time.Hour)), "")
	got, err := s.Update("a", "", "ops", func(r *store.Record) error {
		r.Name, r.Role, r.NotAfter = "new-name", "scheduler", t0.Add(48*time.Hour)
		r.CertFile = "/new.pem"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "new-name" || got.CertFile != "/new.pem" {
		t.Errorf("Update returned %+v", got)
	}
	if old, _ := s.ByName("old-name"); len(old) != 0 {
		t.Error("old name still indexed")
	}
	if _, ok, _ := s.Active("scheduler", "new-name"); !ok {
		t.Error("new role/name not indexed")
	}
	soon := serials(t, func(fn func(store.Record) error) error { return s.ExpiringBefore(t0.Add(2*time.Hour), fn) })
	if len(soon) != 0 {
		t.Errorf("old expiry still indexed: %v", soon)
	}
	_, err = s.Update("a", "", "ops", func(r *store.Record) error { r.Serial = "b"; return nil })
	wantErr(t, err, store.ErrInvalid)
	boom := errors.New("boom")
	_, err = s.Update("a", "", "ops", func(r *store.Record) error { r.Name = "x"; return boom })
	wantErr(t, err, boom)
	if got := mustCert(t, s, "a"); got.Name != "new-name" {
		t.Errorf("aborted update changed the name to %q", got.Name)
	}
	if _, err := s.SetStatus("a", store.Revoked, "ops"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SetStatus(Revoked) = %v, want ErrInvalid", err)
	}
	if r, err := s.SetStatus("a", store.Superseded, "ops"); err != nil || r.Status != store.Superseded {
		t.Errorf("SetStatus = %v, %v", r.Status, err)
	}
	mustCheckOK(t, s)
}

func TestMetaAndCounters(t *testing.T) {
	t.Parallel()
	s, path := newStore(t)
	_, err := s.Meta("trust-domain")
	wantErr(t, err, store.ErrNotFound)
	if err := s.SetMeta("trust-domain", []byte("example.org")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.SetMeta("", nil), store.ErrInvalid)
	for want := uint64(1); want <= 3; want++ {
		if n, err := s.NextCounter("crl"); err != nil || n != want {
			t.Fatalf("NextCounter = %d, %v; want %d", n, err, want)
		}
	}
	s.Close()
	s = mustOpen(t, path, store.Options{})
	if v, err := s.Meta("trust-domain"); err != nil || string(v) != "example.org" {
		t.Errorf("Meta after reopen = %q, %v", v, err)
	}
	if n, _ := s.NextCounter("crl"); n != 4 {
		t.Errorf("counter after reopen = %d, want 4", n)
	}
}

func TestCallbackPanicPassesThrough(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	mustPut(t, s, rec("a", "worker", "w", t0))
	defer func() {
		if r := recover(); r != "mine" {
			t.Errorf("recovered %v, want the callback's own panic", r)
		}
	}()
	_ = s.List(store.Filter{}, func(store.Record) error { panic("mine") })
	t.Error("List returned after its callback panicked")
}
