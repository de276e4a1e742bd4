package store_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
)

// fixture: serial, role, name, NotAfter offset from t0, IssuedAt offset.
func fixture(t *testing.T) *store.Store {
	t.Helper()
	s, _ := newStore(t)
	h := time.Hour
	rows := []struct {
		serial, role, name string
		exp, issued        time.Duration
	}{
		{"10", "worker", "w1", 5 * h, -10 * h},
		{"f", "worker", "w1", 3 * h, -5 * h}, // newer w1
		{"2", "scheduler", "s", 3 * h, -20 * h},
		{"abc", "client", "w1", -h, -30 * h}, // same name, other role, expired
		{"3", "worker", "w2", 3*h + 500*time.Millisecond, -7 * h},
		{"4", "worker", "w3", 100 * h, -1 * h},
	}
	var recs []store.Record
	for _, r := range rows {
		x := rec(r.serial, r.role, r.name, t0.Add(r.exp))
		x.IssuedAt = t0.Add(r.issued)
		recs = append(recs, x)
	}
	mustPut(t, s, recs...)
	if _, err := s.Revoke("3", "", time.Time{}, "t"); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestByName(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	got, err := s.ByName("w1")
	if err != nil {
		t.Fatal(err)
	}
	var ser []string
	for _, r := range got {
		ser = append(ser, r.Serial)
	}
	if want := []string{"f", "10", "abc"}; !reflect.DeepEqual(ser, want) {
		t.Errorf("ByName(w1) = %v, want newest first %v", ser, want)
	}
	for _, name := range []string{"w", "w10", ""} {
		if got, err := s.ByName(name); err != nil || len(got) != 0 {
			t.Errorf("ByName(%q) = %d records, %v", name, len(got), err)
		}
	}
}

func TestActive(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	tests := []struct {
		role, name, want string
	}{
		{"worker", "w1", "f"},
		{"client", "w1", "abc"}, // expired but still Active: expiry is the caller's business
		{"worker", "w2", ""},    // revoked
		{"worker", "nobody", ""},
		{"work", "w1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.role+"/"+tt.name, func(t *testing.T) {
			r, ok, err := s.Active(tt.role, tt.name)
			if err != nil || ok != (tt.want != "") || r.Serial != tt.want {
				t.Errorf("Active = %q, %v, %v; want %q", r.Serial, ok, err, tt.want)
			}
		})
	}
}

// TestActiveEach: one transaction answers every key as Active would, in
// order, and an error from the callback stops it.
func TestActiveEach(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	keys := []store.RoleName{{"worker", "w1"}, {"worker", "nobody"}, {"client", "w1"}, {"worker", "w2"}, {"worker", "w1"}}
	want := []string{"f", "", "abc", "", "f"}
	var got []string
	err := s.ActiveEach(keys, func(i int, r store.Record, ok bool) error {
		if i != len(got) || ok != (r.Serial != "") {
			t.Errorf("call %d: index %d, ok %v, serial %q", len(got), i, ok, r.Serial)
		}
		got = append(got, r.Serial)
		return nil
	})
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ActiveEach = %q, %v; want %q", got, err, want)
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.ActiveEach(keys, func(int, store.Record, bool) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("callback error: %v after %d calls, want it after 1", err, calls)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	tests := []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"all, numeric serial order", store.Filter{}, []string{"2", "3", "4", "f", "10", "abc"}},
		{"role, by name then issued", store.Filter{Role: "worker"}, []string{"10", "f", "3", "4"}},
		{"role and status", store.Filter{Role: "worker", Status: store.Active}, []string{"10", "f", "4"}},
		{"status", store.Filter{Status: store.Revoked}, []string{"3"}},
		{"expiring, by expiry second then serial", store.Filter{NotAfterBefore: t0.Add(4 * time.Hour)}, []string{"abc", "2", "3", "f"}},
		{"expiring active workers", store.Filter{Role: "worker", Status: store.Active, NotAfterBefore: t0.Add(4 * time.Hour)}, []string{"f"}},
		{"unknown role", store.Filter{Role: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serials(t, func(fn func(store.Record) error) error { return s.List(tt.f, fn) })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("List(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}
}

func TestListStopsOnError(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	stop := errors.New("stop")
	n := 0
	err := s.List(store.Filter{}, func(store.Record) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("List = %v after %d calls, want stop after 1", err, n)
	}
}

func TestExpiringBeforeBounds(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	h := time.Hour
	tests := []struct {
		name string
		t    time.Time
		want []string
	}{
		{"before everything", t0.Add(-2 * h), nil},
		{"exactly at a NotAfter excludes it", t0.Add(-h), nil},
		{"just after", t0.Add(-h + time.Nanosecond), []string{"abc"}},
		{"ties by serial", t0.Add(3*h + time.Nanosecond), []string{"abc", "2", "f"}},
		{"sub-second NotAfter not yet before", t0.Add(3*h + 500*time.Millisecond), []string{"abc", "2", "f"}},
		{"same second, sub-second NotAfter", t0.Add(3*h + 600*time.Millisecond), []string{"abc", "2", "3", "f"}},
		{"everything", t0.Add(1000 * h), []string{"abc", "2", "3", "f", "10", "4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serials(t, func(fn func(store.Record) error) error { return s.ExpiringBefore(tt.t, fn) })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ExpiringBefore(%v) = %v, want %v", tt.t, got, tt.want)
			}
		})
	}
}

func TestExpiringBeforeMatchesScan(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	mustFill(t, s, 3000, 7)
	var all []store.Record
	if err := s.List(store.Filter{}, func(r store.Record) error { all = append(all, r); return nil }); err != nil {
		t.Fatal(err)
	}
	cut := t0.Add(10 * 24 * time.Hour)
	var want []string
	slices.SortFunc(all, func(a, b store.Record) int { return a.NotAfter.Compare(b.NotAfter) })
	for _, r := range all {
		if r.NotAfter.Before(cut) {
			want = append(want, r.Serial)
		}
	}
	got := serials(t, func(fn func(store.Record) error) error { return s.ExpiringBefore(cut, fn) })
	if len(got) != len(want) || len(want) == 0 || len(want) == len(all) {
		t.Fatalf("ExpiringBefore gave %d, scan %d of %d", len(got), len(want), len(all))
	}
	var prev time.Time
	for i, serial := range got {
		r := mustCert(t, s, serial)
		if r.NotAfter.Before(prev) {
			t.Fatalf("result %d out of NotAfter order", i)
		}
		prev = r.NotAfter
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Error("ExpiringBefore and a full scan disagree")
	}
	if n, _ := s.Count(); n != 3000 {
		t.Errorf("Count = %d", n)
	}
	mustCheckOK(t, s)
}
