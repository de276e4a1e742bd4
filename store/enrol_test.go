package store_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
)

func mustToken(t *testing.T, s *store.Store, id string, uses int, expires time.Time) {
	t.Helper()
	h := sha256.Sum256([]byte("secret of " + id))
	err := s.CreateToken(store.TokenRecord{ID: id, Hash: h[:], Role: "worker", Names: "node*",
		Uses: uses, UsesLeft: uses, Created: t0, Expires: expires}, "test")
	if err != nil {
		t.Fatal(err)
	}
}

// TestEnrolDecidesEachItem: one transaction records the items that pass
// and refuses the others on their own, consuming exactly the uses a token
// has, and logs every decision.
func TestEnrolDecidesEachItem(t *testing.T) {
	t.Parallel()
	s, path := newStore(t)
	mustToken(t, s, "00000000000000a1", 2, t0.Add(time.Hour))
	mustToken(t, s, "00000000000000a2", 5, t0.Add(-time.Second)) // expired
	mustToken(t, s, "00000000000000a3", 5, t0.Add(time.Hour))
	if _, err := s.RevokeToken("00000000000000a3", "test"); err != nil {
		t.Fatal(err)
	}
	noFiles := func(serial, name string) store.Record {
		r := rec(serial, "worker", name, t0.Add(24*time.Hour))
		return r
	}
	items := []store.Enrolment{
		{Record: noFiles("101", "node01"), TokenID: "00000000000000a1"},
		{Record: noFiles("102", "node02"), TokenID: "00000000000000a1"},
		{Record: noFiles("103", "node03"), TokenID: "00000000000000a1"}, // no use left
		{Record: noFiles("104", "node04"), TokenID: "00000000000000a2"}, // expired
		{Record: noFiles("105", "node05"), TokenID: "00000000000000a3"}, // revoked
		{Record: noFiles("106", "node06"), TokenID: "00000000000000ff"}, // unknown
		{Record: noFiles("107", "node01"), Renews: "101"},               // renews the first, same batch
		{Record: noFiles("108", "node01"), Renews: "101"},               // 101 is superseded by now
	}
	errs, err := s.Enrol(items, []store.Refusal{{Client: "192.0.2.1", Reason: "rate limited"}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	want := []error{nil, nil, store.ErrTokenUsedUp, store.ErrTokenExpired, store.ErrTokenRevoked, store.ErrTokenUnknown, nil, store.ErrSuperseded}
	for i := range want {
		if (want[i] == nil) != (errs[i] == nil) || (want[i] != nil && !errors.Is(errs[i], want[i])) {
			t.Errorf("item %d: got %v, want %v", i, errs[i], want[i])
		}
	}
	if n, _ := s.Count(); n != 3 {
		t.Fatalf("%d records, want 3", n)
	}
	tok, _ := s.Token("00000000000000a1")
	if tok.UsesLeft != 0 {
		t.Fatalf("uses left %d, want 0", tok.UsesLeft)
	}
	old, _ := s.Cert("101")
	if old.Status != store.Superseded || old.SupersededBy != "107" {
		t.Fatalf("renewed record %+v", old)
	}
	kinds := map[store.EventKind]int{}
	_ = s.Events(func(e store.Event) error { kinds[e.Kind]++; return nil })
	if kinds[store.EventIssue] != 3 || kinds[store.EventRefuse] != 6 || kinds[store.EventSupersede] != 1 {
		t.Fatalf("events %v", kinds)
	}
	if rep, err := s.Check(); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("check: %v %v", rep.Problems, err)
	}
	db, _ := os.ReadFile(path)
	if bytes.Contains(db, []byte("secret of")) {
		t.Fatal("a token secret is in the file")
	}
	if !strings.Contains(string(db), "00000000000000a1") {
		t.Fatal("the token's id is not in the file")
	}
}

func TestRevokeTokenNeverEchoesInput(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	_, err := s.RevokeToken("daskca1.0123456789abcdef.c2VjcmV0.ff", "test")
	if !errors.Is(err, store.ErrTokenUnknown) || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Fatalf("got %v", err)
	}
}

// TestEnrolGuardedRefusesWhenTheGuardChanged: while the guarded meta value
// is as the caller found it (absent, or set), enrolments are recorded;
// once it differs, every enrolment of a batch is refused with ErrGuard,
// audited, and no token use is consumed.
func TestEnrolGuardedRefusesWhenTheGuardChanged(t *testing.T) {
	tests := []struct {
		name      string
		stored    []byte // nil: key absent
		want      []byte // the guard's value
		recording bool
	}{
		{"absent and absent", nil, nil, true},
		{"same value", []byte(`{"phase":"begun"}`), []byte(`{"phase":"begun"}`), true},
		{"set since", []byte(`{"phase":"begun"}`), nil, false},
		{"changed since", []byte(`{"phase":"issued"}`), []byte(`{"phase":"begun"}`), false},
		{"removed since", nil, []byte(`{"phase":"begun"}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			mustToken(t, s, "00000000000000b1", 5, t0.Add(time.Hour))
			if tt.stored != nil {
				if err := s.SetMeta("ca.rotation", tt.stored); err != nil {
					t.Fatal(err)
				}
			}
			items := []store.Enrolment{
				{Record: rec("201", "worker", "node01", t0.Add(24*time.Hour)), TokenID: "00000000000000b1"},
				{Record: rec("202", "worker", "node02", t0.Add(24*time.Hour)), TokenID: "00000000000000b1"},
			}
			errs, err := s.EnrolGuarded(&store.Guard{Key: "ca.rotation", Want: tt.want}, items, nil, "test")
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range errs {
				if tt.recording && e != nil || !tt.recording && !errors.Is(e, store.ErrGuard) {
					t.Errorf("item %d: %v (recording: %v)", i, e, tt.recording)
				}
			}
			n, _ := s.Count()
			tok, _ := s.Token("00000000000000b1")
			refused := 0
			_ = s.Events(func(e store.Event) error {
				if e.Kind == store.EventRefuse {
					refused++
				}
				return nil
			})
			wantN, wantLeft, wantRefused := 2, 3, 0
			if !tt.recording {
				wantN, wantLeft, wantRefused = 0, 5, 2
			}
			if n != wantN || tok.UsesLeft != wantLeft || refused != wantRefused {
				t.Errorf("records %d, uses left %d, refusals %d; want %d, %d, %d", n, tok.UsesLeft, refused, wantN, wantLeft, wantRefused)
			}
		})
	}
}
