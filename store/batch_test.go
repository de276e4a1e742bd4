package store_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
	"github.com/daskca/daskca/store/storetest"
)

func TestApplyBatch(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	old := rec("a1", "worker", "w1", t0.Add(time.Hour))
	mustIssue(t, s, old, "")
	items := []store.Replacement{
		{Record: rec("f3", "worker", "w1", t0.Add(48*time.Hour)), Replaces: "a1"},
		{Record: rec("b2", "worker", "w2", t0.Add(24*time.Hour))},
		{Record: rec("c", "client", "alice", t0.Add(72*time.Hour))},
	}
	if err := s.Apply(store.Batch{Issue: items}, "test"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(); n != 4 {
		t.Errorf("Count = %d, want 4", n)
	}
	if o := mustCert(t, s, "a1"); o.Status != store.Superseded || o.SupersededBy != "f3" {
		t.Errorf("old record = %s superseded by %q", o.Status, o.SupersededBy)
	}
	if cur, ok, err := s.Active("worker", "w1"); err != nil || !ok || cur.Serial != "f3" || cur.Supersedes != "a1" {
		t.Errorf("Active(worker, w1) = %s %v %v (supersedes %q)", cur.Serial, ok, err, cur.Supersedes)
	}
	got := serials(t, func(fn func(store.Record) error) error { return s.ExpiringBefore(t0.Add(49*time.Hour), fn) })
	if want := []string{"a1", "b2", "f3"}; !slices.Equal(got, want) {
		t.Errorf("ExpiringBefore = %v, want %v", got, want)
	}
	var kinds []string
	_ = s.Events(func(e store.Event) error { kinds = append(kinds, string(e.Kind)+":"+e.Serial); return nil })
	if want := []string{"issue:a1", "issue:f3", "supersede:a1", "issue:b2", "issue:c"}; !slices.Equal(kinds, want) {
		t.Errorf("events = %v, want %v", kinds, want)
	}
	mustCheckOK(t, s)
}

func TestApplyBatchAllOrNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		items []store.Replacement
		want  error
	}{
		{"serial stored", []store.Replacement{{Record: rec("5", "worker", "x", t0)}, {Record: rec("99", "worker", "y", t0)}}, store.ErrExists},
		{"serial twice", []store.Replacement{{Record: rec("5", "worker", "x", t0)}, {Record: rec("5", "worker", "y", t0)}}, store.ErrExists},
		{"replace missing", []store.Replacement{{Record: rec("5", "worker", "x", t0)}, {Record: rec("6", "worker", "y", t0), Replaces: "77"}}, store.ErrNotFound},
		{"replace twice", []store.Replacement{{Record: rec("5", "worker", "x", t0), Replaces: "99"}, {Record: rec("6", "worker", "y", t0), Replaces: "99"}}, store.ErrSuperseded},
		{"replace itself", []store.Replacement{{Record: rec("5", "worker", "x", t0), Replaces: "5"}}, store.ErrInvalid},
		{"invalid record", []store.Replacement{{Record: rec("5", "worker", "x", t0)}, {Record: rec("6", "", "y", t0)}}, store.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			mustPut(t, s, rec("99", "client", "existing", t0))
			wantErr(t, s.Apply(store.Batch{Issue: tt.items}, "test"), tt.want)
			assertOnly99(t, s)
			if r := mustCert(t, s, "99"); r.Status != store.Active || r.SupersededBy != "" {
				t.Errorf("record 99 changed: %s, superseded by %q", r.Status, r.SupersededBy)
			}
		})
	}
}

func BenchmarkApplyBatch(b *testing.B) {
	for _, size := range []int{100, 1000, 10000} {
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			g, err := storetest.NewGen(storetest.Options{Now: t0})
			if err != nil {
				b.Fatal(err)
			}
			s, _ := newStore(b)
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				items := make([]store.Replacement, size)
				for i := range items {
					items[i].Record = g.Next()
				}
				b.StartTimer()
				if err := s.Apply(store.Batch{Issue: items}, "bench"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
