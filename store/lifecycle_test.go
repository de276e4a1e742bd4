package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
)

func TestApply(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	mustIssue(t, s, rec("a1", "worker", "w1", t0.Add(time.Hour)), "")
	if err := s.SetMeta("gone", []byte("x")); err != nil {
		t.Fatal(err)
	}
	b := store.Batch{
		Issue: []store.Replacement{
			{Record: rec("b1", "worker", "w1", t0.Add(48*time.Hour)), Replaces: "a1", Kind: store.EventRenew},
			{Record: rec("c1", "client", "alice", t0.Add(48*time.Hour))},
		},
		Meta:  map[string][]byte{"phase": []byte("issued"), "gone": nil},
		Notes: []store.Note{{Kind: store.EventCAChange, Detail: "issue"}},
	}
	if err := s.Apply(b, "test"); err != nil {
		t.Fatal(err)
	}
	if o := mustCert(t, s, "a1"); o.Status != store.Superseded || o.SupersededBy != "b1" {
		t.Errorf("old record: %s superseded by %q", o.Status, o.SupersededBy)
	}
	if n := mustCert(t, s, "b1"); n.Supersedes != "a1" || n.Status != store.Active {
		t.Errorf("new record: %s supersedes %q", n.Status, n.Supersedes)
	}
	if v, err := s.Meta("phase"); err != nil || string(v) != "issued" {
		t.Errorf("Meta(phase) = %q, %v", v, err)
	}
	if _, err := s.Meta("gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Meta(gone) after delete: %v, want ErrNotFound", err)
	}
	var got []string
	_ = s.Events(func(e store.Event) error { got = append(got, string(e.Kind)+":"+e.Serial+":"+e.Detail); return nil })
	want := []string{"issue:a1:", "renew:b1:replaces a1", "supersede:a1:superseded by b1", "issue:c1:", "ca-rotate::issue"}
	if !slices.Equal(got, want) {
		t.Errorf("events = %q\nwant %q", got, want)
	}
	mustCheckOK(t, s)
}

func TestApplyAllOrNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		b    store.Batch
		want error
	}{
		{"replaces missing", store.Batch{Issue: []store.Replacement{{Record: rec("b2", "worker", "w2", t0), Replaces: "ff"}}}, store.ErrNotFound},
		{"serial exists", store.Batch{Issue: []store.Replacement{{Record: rec("a1", "worker", "w2", t0)}}}, store.ErrExists},
		{"serial twice", store.Batch{Issue: []store.Replacement{{Record: rec("b2", "worker", "w2", t0)}, {Record: rec("b2", "worker", "w3", t0)}}}, store.ErrExists},
		{"replaced twice", store.Batch{Issue: []store.Replacement{
			{Record: rec("b2", "worker", "w1", t0), Replaces: "a1"}, {Record: rec("b3", "worker", "w1", t0), Replaces: "a1"}}}, store.ErrSuperseded},
		{"bad meta key", store.Batch{Issue: []store.Replacement{{Record: rec("b2", "worker", "w2", t0)}}, Meta: map[string][]byte{"": []byte("x")}}, store.ErrInvalid},
		{"note without kind", store.Batch{Issue: []store.Replacement{{Record: rec("b2", "worker", "w2", t0)}}, Notes: []store.Note{{}}}, store.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			mustIssue(t, s, rec("a1", "worker", "w1", t0.Add(time.Hour)), "")
			head, _, _ := s.AuditHead()
			wantErr(t, s.Apply(tt.b, "test"), tt.want)
			if n, _ := s.Count(); n != 1 {
				t.Errorf("Count = %d after a failed batch, want 1", n)
			}
			if h, _, _ := s.AuditHead(); h != head {
				t.Errorf("audit head moved from %d to %d", head, h)
			}
			if o := mustCert(t, s, "a1"); o.Status != store.Active {
				t.Errorf("a1 is %s after a failed batch", o.Status)
			}
		})
	}
}
