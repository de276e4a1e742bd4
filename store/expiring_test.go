package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
)

func TestExpiringBetween(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	mustFill(t, s, 3000, 7)
	mustPut(t, s,
		rec("a1", "worker", "edge-from", t0.Add(-time.Nanosecond)),
		rec("a2", "worker", "at-from", t0),
		rec("a3", "worker", "before-to", t0.Add(30*24*time.Hour-time.Nanosecond)),
		rec("a4", "worker", "at-to", t0.Add(30*24*time.Hour)))
	from, to := t0, t0.Add(30*24*time.Hour)
	var want []string
	err := s.ExpiringBefore(to, func(r store.Record) error {
		if !r.NotAfter.Before(from) {
			want = append(want, r.Serial)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := serials(t, func(fn func(store.Record) error) error { return s.ExpiringBetween(from, to, fn) })
	if len(got) < 100 || !slices.Equal(got, want) {
		t.Fatalf("ExpiringBetween gave %d records, the filtered ExpiringBefore %d", len(got), len(want))
	}
	for _, s := range []string{"a2", "a3"} {
		if !slices.Contains(got, s) {
			t.Errorf("%s missing", s)
		}
	}
	for _, s := range []string{"a1", "a4"} {
		if slices.Contains(got, s) {
			t.Errorf("%s is outside [from, to) but was returned", s)
		}
	}
}
