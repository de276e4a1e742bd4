package issue

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/store"
)

// TestReissue: re-issuing through the bulk pipeline keeps each endpoint's
// role, names, addresses and key type, gives a new key (or, with ReuseKey,
// the old one), keeps a combined.pem in step, supersedes and links the old
// records, and records the run's event kind.
func TestReissue(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		t.Run(map[bool]string{false: "new keys", true: "reused keys"}[reuse], func(t *testing.T) {
			is := mustIssuer(t, ca.Options{})
			ctx := context.Background()
			var olds []store.Record
			for _, r := range []Request{
				{Role: identity.Worker, Name: "w1", DNS: []string{"w1.test.dask"}, IPs: []string{"10.0.0.1"}, Validity: 30 * 24 * time.Hour},
				{Role: identity.Scheduler, Name: "s1", DNS: []string{"s1.test.dask"}, KeyType: ca.RSA2048},
				{Role: identity.Client, Name: "alice", KeyType: ca.Ed25519},
			} {
				rec, err := is.Issue(ctx, r)
				if err != nil {
					t.Fatal(err)
				}
				olds = append(olds, rec)
			}
			combined := is.Layout.Endpoint("worker", "w1").Combined
			if err := os.WriteFile(combined, append(mustRead(t, olds[0].CertFile), mustRead(t, olds[0].KeyFile)...), 0o600); err != nil {
				t.Fatal(err)
			}
			oldKeys := map[string][]byte{}
			for _, o := range olds {
				oldKeys[o.Name] = mustRead(t, o.KeyFile)
			}
			p := is.PlanReissue(olds, ReissueOptions{ReuseKey: reuse})
			if p.Count(ActionIssue) != 3 {
				t.Fatalf("plan %+v; want 3 to issue", p.Items)
			}
			var got []store.Record
			if _, err := is.IssueBulk(ctx, p, BulkOptions{Kind: store.EventRenew, OnIssued: func(r store.Record) { got = append(got, r) }}); err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("issued %d, want 3", len(got))
			}
			for i, n := range got {
				o := olds[i]
				switch {
				case n.Serial == o.Serial || n.Supersedes != o.Serial:
					t.Errorf("%s: serial %s supersedes %q; want a new one superseding %s", o.Name, n.Serial, n.Supersedes, o.Serial)
				case n.Role != o.Role || n.Name != o.Name || !slices.Equal(n.DNS, o.DNS) || !slices.Equal(n.IPs, o.IPs) || n.KeyType != o.KeyType:
					t.Errorf("%s: %+v differs from %+v", o.Name, n, o)
				case n.NotAfter.Sub(n.NotBefore) != o.NotAfter.Sub(o.NotBefore):
					t.Errorf("%s: lifetime %s, want %s", o.Name, n.NotAfter.Sub(n.NotBefore), o.NotAfter.Sub(o.NotBefore))
				}
				if old, _ := is.Store.Cert(o.Serial); old.Status != store.Superseded || old.SupersededBy != n.Serial {
					t.Errorf("%s: old record %s superseded by %q", o.Name, old.Status, old.SupersededBy)
				}
				if _, err := tls.LoadX509KeyPair(n.CertFile, n.KeyFile); err != nil {
					t.Errorf("%s: files do not fit: %v", o.Name, err)
				}
				if same := bytes.Equal(mustRead(t, n.KeyFile), oldKeys[o.Name]); same != reuse {
					t.Errorf("%s: key kept = %v, want %v", o.Name, same, reuse)
				}
				checkFiles(t, is, n)
			}
			pair, err := tls.X509KeyPair(mustRead(t, combined), mustRead(t, combined))
			if err != nil {
				t.Fatalf("combined.pem: %v", err)
			}
			if !bytes.Equal(pair.Certificate[0], got[0].DER) {
				t.Error("combined.pem was not kept in step")
			}
			kinds := map[store.EventKind]int{}
			_ = is.Store.Events(func(e store.Event) error { kinds[e.Kind]++; return nil })
			if kinds[store.EventRenew] != 3 || kinds[store.EventIssue] != 3 || kinds[store.EventSupersede] != 3 {
				t.Errorf("events %v; want 3 issue, 3 renew, 3 supersede", kinds)
			}
		})
	}
}

// TestReissueReuseKeyChecked: re-using a key needs the endpoint's key file
// to hold the key of the certificate replaced; otherwise the run fails
// before it records anything.
func TestReissueReuseKeyChecked(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	ctx := context.Background()
	w1, err := is.Issue(ctx, Request{Role: identity.Worker, Name: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := is.Issue(ctx, Request{Role: identity.Worker, Name: "w2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w1.KeyFile, mustRead(t, w2.KeyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, is)
	_, err = is.IssueBulk(ctx, is.PlanReissue([]store.Record{w1}, ReissueOptions{ReuseKey: true}), BulkOptions{})
	if err == nil {
		t.Fatal("re-issued with another certificate's key")
	}
	if after := snapshot(t, is); !slices.Equal(before, after) {
		t.Errorf("a failed re-issue changed the home:\nbefore %v\nafter  %v", before, after)
	}
	if cur, _, _ := is.Store.Active("worker", "w1"); cur.Serial != w1.Serial {
		t.Error("a failed re-issue changed the inventory")
	}
}

// TestPlanReissueRefuses: a record whose re-issue would outlive the
// issuing CA certificate, or whose names the CA no longer permits, is
// refused up front with its cause.
func TestPlanReissueRefuses(t *testing.T) {
	is := mustIssuer(t, ca.Options{PermitDNS: []string{".test.dask"}})
	rec, err := is.Issue(context.Background(), Request{Role: identity.Worker, Name: "w1", DNS: []string{"w1.test.dask"}})
	if err != nil {
		t.Fatal(err)
	}
	outside := rec
	outside.DNS = []string{"w1.elsewhere.example"}
	tooLong := is.CA.Issuer().NotAfter.Sub(testNow) + time.Hour
	for _, tt := range []struct {
		name string
		rec  store.Record
		o    ReissueOptions
		want error
	}{
		{"outlives the CA", rec, ReissueOptions{Validity: tooLong}, ca.ErrOutlivesIssuer},
		{"name no longer permitted", outside, ReissueOptions{}, ca.ErrNameConstraint},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := is.PlanReissue([]store.Record{tt.rec}, tt.o)
			it := p.Items[0]
			if it.Action != ActionRefuse || !errors.Is(it.Err, tt.want) || it.Reason != it.Err.Error() {
				t.Errorf("item %s %q (%v); want refused with %v", it.Action, it.Reason, it.Err, tt.want)
			}
			if _, err := is.IssueBulk(context.Background(), p, BulkOptions{}); !errors.Is(err, ErrRefused) {
				t.Errorf("IssueBulk = %v, want ErrRefused", err)
			}
		})
	}
}

// TestIssueRecoversFirst: a library caller of issue gets crash recovery
// without the command line: the next Issue (or IssueBulk) finishes the
// placing of a recorded certificate whose files a crash left pending.
func TestIssueRecoversFirst(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	if err := is.CA.Save(is.Layout.CADir(), []byte("pw")); err != nil { // Recover checks files against the home's CAs
		t.Fatal(err)
	}
	ctx := context.Background()
	w1, err := is.Issue(ctx, Request{Role: identity.Worker, Name: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	// a crash after the commit of w1, before its directory was renamed
	// (the run had removed the settled marker before staging)
	pending := is.Layout.NewEndpointPendingDir("worker", w1.Serial)
	if err := os.Rename(is.Layout.CertDir("worker", "w1"), pending); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(is.Layout.Settled()); err != nil {
		t.Fatal(err)
	}
	if _, err := is.Issue(ctx, Request{Role: identity.Worker, Name: "w2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pending); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pending directory left: %v", err)
	}
	checkFiles(t, is, w1)
}
