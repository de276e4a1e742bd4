package issue

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/store"
)

func mustHostRequests(t testing.TB, list, ipRange string) []Request {
	t.Helper()
	reqs, err := HostRequests(Request{Role: identity.Worker, Validity: 90 * 24 * time.Hour}, list, ipRange)
	if err != nil {
		t.Fatal(err)
	}
	return reqs
}

func mustPlan(t testing.TB, is *Issuer, reqs []Request) Plan {
	t.Helper()
	p, err := is.Plan(reqs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mustBulk plans and issues reqs, returning the records in the order
// OnIssued reported them.
func mustBulk(t testing.TB, is *Issuer, reqs []Request, o BulkOptions) (BulkResult, []store.Record) {
	t.Helper()
	var got []store.Record
	o.OnIssued = func(r store.Record) { got = append(got, r) }
	res, err := is.IssueBulk(context.Background(), mustPlan(t, is, reqs), o)
	if err != nil {
		t.Fatal(err)
	}
	return res, got
}

func TestIssueBulk(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	reqs := mustHostRequests(t, "node[001-300].dask.internal", "10.0.0.0/22")
	res, recs := mustBulk(t, is, reqs, BulkOptions{Workers: 4, BatchSize: 64})
	if res.Issued != 300 || res.Skipped != 0 || len(recs) != 300 {
		t.Fatalf("result %+v, %d records reported", res, len(recs))
	}
	serials := map[string]bool{}
	for i, r := range recs {
		if r.Name != reqs[i].Name {
			t.Fatalf("record %d is %s, want %s (plan order)", i, r.Name, reqs[i].Name)
		}
		if serials[r.Serial] {
			t.Fatalf("serial %s issued twice", r.Serial)
		}
		serials[r.Serial] = true
		checkIndexed(t, is.Store, r)
		checkFiles(t, is, r)
	}
	if recs[0].IPs[0] != "10.0.0.1" || recs[299].IPs[0] != "10.0.1.44" || recs[299].DNS[0] != "node300.dask.internal" {
		t.Errorf("last record: dns %v ips %v", recs[299].DNS, recs[299].IPs)
	}
	checkCounts(t, is.Store, 300)
	noTempFiles(t, is.Layout.Dir)
}

// checkIndexed finds r through every index and by serial.
func checkIndexed(t *testing.T, s *store.Store, r store.Record) {
	t.Helper()
	if got, err := s.Cert(r.Serial); err != nil || got.Name != r.Name {
		t.Fatalf("Cert(%s) = %s, %v", r.Serial, got.Name, err)
	}
	if got, ok, err := s.Active(r.Role, r.Name); err != nil || !ok || got.Serial != r.Serial {
		t.Fatalf("Active(%s, %s) = %s %v %v", r.Role, r.Name, got.Serial, ok, err)
	}
	if got, err := s.ByName(r.Name); err != nil || len(got) != 1 || got[0].Serial != r.Serial {
		t.Fatalf("ByName(%s) = %d records, %v", r.Name, len(got), err)
	}
}

// checkCounts compares the record count with what each index yields.
func checkCounts(t *testing.T, s *store.Store, want int) {
	t.Helper()
	count := func(f store.Filter) int {
		n := 0
		if err := s.List(f, func(store.Record) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	n, err := s.Count()
	if err != nil || n != want {
		t.Fatalf("Count = %d, %v; want %d", n, err, want)
	}
	if got := count(store.Filter{Role: "worker"}); got != want {
		t.Errorf("role index yields %d, want %d", got, want)
	}
	if got := count(store.Filter{NotAfterBefore: testNow.Add(10 * 365 * 24 * time.Hour)}); got != want {
		t.Errorf("expiry index yields %d, want %d", got, want)
	}
	rep, err := s.Check()
	if err != nil || !rep.OK() {
		t.Errorf("Check: %v %v", err, rep.Problems)
	}
}

// checkFiles compares an endpoint's files with its record.
func checkFiles(t *testing.T, is *Issuer, r store.Record) {
	t.Helper()
	chain := readCert(t, r.CertFile)
	if !bytes.Equal(chain[0].Raw, r.DER) {
		t.Fatalf("%s holds another certificate than record %s", r.CertFile, r.Serial)
	}
	if err := chain[0].CheckSignatureFrom(is.CA.Issuer()); err != nil {
		t.Fatalf("%s: %v", r.CertFile, err)
	}
	key, err := pemutil.Read(r.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyutil.VerifyPair(chain[0].PublicKey, key); err != nil {
		t.Fatalf("%s does not match %s: %v", r.KeyFile, r.CertFile, err)
	}
	if fi, err := os.Stat(r.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: mode %v, %v", r.KeyFile, fi.Mode().Perm(), err)
	}
	if b, err := os.ReadFile(r.CAFile); err != nil || !bytes.Equal(b, is.CA.BundlePEM()) {
		t.Fatalf("%s is not the CA bundle (%v)", r.CAFile, err)
	}
}

func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return err
	})
}

// tree lists every file and directory under dir, with file contents.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || strings.HasSuffix(p, "inventory.db") || strings.HasSuffix(p, "inventory.db.lock") {
			return err
		}
		if d.IsDir() {
			out = append(out, p+"/")
			return nil
		}
		b, err := os.ReadFile(p)
		out = append(out, p+":"+string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIssueBulkIdempotent(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	reqs := mustHostRequests(t, "n[1-40]", "10.1.0.0/24")
	mustBulk(t, is, reqs, BulkOptions{BatchSize: 16})
	before, events := tree(t, is.Layout.Dir), eventCount(t, is.Store)

	p := mustPlan(t, is, reqs)
	if p.Count(ActionSkip) != 40 {
		t.Fatalf("re-plan: %d skips, want 40: %+v", p.Count(ActionSkip), p.Items[0])
	}
	res, err := is.IssueBulk(context.Background(), p, BulkOptions{})
	if err != nil || res.Issued != 0 || res.Skipped != 40 {
		t.Fatalf("re-run: %+v, %v", res, err)
	}
	if after := tree(t, is.Layout.Dir); !slices.Equal(before, after) || eventCount(t, is.Store) != events {
		t.Error("re-running identical requests changed the home or the inventory")
	}

	reqs[3].IPs = []string{"10.9.9.9"}
	if p := mustPlan(t, is, reqs); p.Items[3].Action != ActionRefuse || !strings.Contains(p.Items[3].Reason, "--force") {
		t.Fatalf("changed request: %s %q", p.Items[3].Action, p.Items[3].Reason)
	}
	reqs[3].Force = true
	old := *mustPlan(t, is, reqs).Items[3].Current
	_, recs := mustBulk(t, is, reqs, BulkOptions{})
	if len(recs) != 1 || recs[0].Supersedes != old.Serial || recs[0].IPs[0] != "10.9.9.9" {
		t.Fatalf("forced re-issue: %+v", recs)
	}
	if o, _ := is.Store.Cert(old.Serial); o.Status != store.Superseded {
		t.Errorf("replaced record is %s", o.Status)
	}
	checkFiles(t, is, recs[0])
}

func eventCount(t *testing.T, s *store.Store) int {
	t.Helper()
	n := 0
	if err := s.Events(func(store.Event) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPlan(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	ctx := context.Background()
	for _, r := range []Request{
		{Role: identity.Worker, Name: "same", DNS: []string{"same.x.y"}},
		{Role: identity.Worker, Name: "other", DNS: []string{"a.x.y"}},
		{Role: identity.Worker, Name: "old", Validity: time.Hour},
		{Role: identity.Worker, Name: "gone"},
	} {
		if _, err := is.Issue(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	gone, _, _ := is.Store.Active("worker", "gone")
	if err := os.Remove(gone.CertFile); err != nil {
		t.Fatal(err)
	}
	is.Now = func() time.Time { return testNow.Add(2 * time.Hour) }
	reqs := []Request{
		{Role: identity.Worker, Name: "same", DNS: []string{"SAME.x.y"}},
		{Role: identity.Worker, Name: "other", DNS: []string{"b.x.y"}},
		{Role: identity.Worker, Name: "old", Validity: time.Hour},
		{Role: identity.Worker, Name: "gone"},
		{Role: identity.Worker, Name: "new"},
		{Role: identity.Client, Name: "new"},
		{Role: identity.Worker, Name: "new"},
		{Role: identity.Worker, Name: "bad/name"},
		{Role: identity.Worker, Name: "other", DNS: []string{"b.x.y"}, Force: true},
	}
	want := []struct {
		a      Action
		reason string
	}{
		{ActionSkip, "identical"},
		{ActionRefuse, "DNS names [a.x.y] differ from [b.x.y]; pass --force"},
		{ActionIssue, "expired"},
		{ActionRefuse, "files are missing"},
		{ActionIssue, ""},
		{ActionIssue, ""},
		{ActionRefuse, "listed twice (first as request 5)"},
		{ActionRefuse, "invalid name"},
		{ActionRefuse, "listed twice"},
	}
	before, events := tree(t, is.Layout.Dir), eventCount(t, is.Store)
	p := mustPlan(t, is, reqs)
	for i, w := range want {
		it := p.Items[i]
		if it.Action != w.a || !strings.Contains(it.Reason, w.reason) || w.reason == "" && it.Reason != "" {
			t.Errorf("request %d (%s): %s %q, want %s %q", i+1, it.Request.Name, it.Action, it.Reason, w.a, w.reason)
		}
	}
	_, err := is.IssueBulk(ctx, p, BulkOptions{})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("IssueBulk of a plan with refusals: %v", err)
	}
	if after := tree(t, is.Layout.Dir); !slices.Equal(before, after) || eventCount(t, is.Store) != events {
		t.Error("planning or a refused plan changed the home or the inventory")
	}
}

func TestIssueBulkBatchFailsMidway(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	reqs := mustHostRequests(t, "n[001-250]", "")
	// A file where n150's directory should go fails the second batch while
	// it writes its files.
	blocker := is.Layout.CertDir("worker", "n150")
	if err := os.MkdirAll(filepath.Dir(blocker), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	var issued []store.Record
	_, err := is.IssueBulk(context.Background(), mustPlan(t, is, reqs), BulkOptions{
		BatchSize: 100, Workers: 3, OnIssued: func(r store.Record) { issued = append(issued, r) },
	})
	if err == nil || !strings.Contains(err.Error(), "batch 2 of 3") {
		t.Fatalf("IssueBulk error = %v, want batch 2 to fail", err)
	}
	checkCounts(t, is.Store, 100)
	if len(issued) != 100 {
		t.Fatalf("%d certificates reported, want the 100 of batch 1", len(issued))
	}
	want := []string{is.Layout.Dir + "/", filepath.Dir(filepath.Dir(blocker)) + "/", filepath.Dir(blocker) + "/"}
	for _, r := range issued {
		checkFiles(t, is, r)
		d := filepath.Dir(r.CertFile)
		want = append(want, d+"/", r.CAFile+":"+string(is.CA.BundlePEM()), r.CertFile+":"+string(mustRead(t, r.CertFile)),
			r.KeyFile+":"+string(mustRead(t, r.KeyFile)))
	}
	want = append(want, blocker+":in the way")
	slices.Sort(want)
	if got := tree(t, is.Layout.Dir); !slices.Equal(got, want) {
		t.Errorf("home after the failed batch has %d entries, want %d (batch 1 and the blocker only)", len(got), len(want))
		for _, g := range got {
			if !slices.Contains(want, g) {
				t.Errorf("  extra: %.80s", g)
			}
		}
	}
}

func TestIssueBulkFirstBatchFailsLeavesNothing(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	reqs := mustHostRequests(t, "n[1-30]", "")
	blocker := is.Layout.CertDir("worker", "n20")
	_ = os.MkdirAll(filepath.Dir(blocker), 0o700)
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	before, events := tree(t, is.Layout.Dir), eventCount(t, is.Store)
	if _, err := is.IssueBulk(context.Background(), mustPlan(t, is, reqs), BulkOptions{}); err == nil {
		t.Fatal("IssueBulk succeeded with a file in the way")
	}
	if after := tree(t, is.Layout.Dir); !slices.Equal(before, after) || eventCount(t, is.Store) != events {
		t.Errorf("a failed batch changed the home or the inventory:\n%q", after)
	}
	checkCounts(t, is.Store, 0)
}

func TestIssueBulkCancelled(t *testing.T) {
	is := mustIssuer(t, ca.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := tree(t, is.Layout.Dir)
	_, err := is.IssueBulk(ctx, mustPlan(t, is, mustHostRequests(t, "n[1-50]", "")), BulkOptions{BatchSize: 10})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if after := tree(t, is.Layout.Dir); !slices.Equal(before, after) {
		t.Errorf("a cancelled run left files: %q", after)
	}
}

// TestIssueBulkNameConstraint: the plan refuses a host outside the name
// constraints, as signing would, so a dry run shows it and the run issues
// nothing.
func TestIssueBulkNameConstraint(t *testing.T) {
	is := mustIssuer(t, ca.Options{PermitDNS: []string{".dask.internal"}})
	reqs := mustHostRequests(t, "n[1-5].dask.internal,x.elsewhere", "")
	p := mustPlan(t, is, reqs)
	if it := p.Items[5]; it.Action != ActionRefuse || !strings.Contains(it.Reason, "not permitted") {
		t.Errorf("plan of x.elsewhere = %s %q, want a name-constraint refusal", it.Action, it.Reason)
	}
	if n := p.Count(ActionIssue); n != 5 {
		t.Errorf("plan issues %d, want 5", n)
	}
	_, err := is.IssueBulk(context.Background(), p, BulkOptions{BatchSize: 4})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	checkCounts(t, is.Store, 0)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIssueBulkLoadCA: with LoadCA, the run signs with the CA it loads
// (the Issuer's CA, public parts only, could not), keys of mixed types
// generated while it loads fit their certificates, and a failing or
// different CA stops the run before anything is written or recorded.
func TestIssueBulkLoadCA(t *testing.T) {
	full := mustIssuer(t, ca.Options{Intermediate: true})
	pw := []byte("correct-horse-battery")
	if err := full.CA.Save(full.Layout.CADir(), pw); err != nil {
		t.Fatal(err)
	}
	public, err := ca.LoadPublic(full.Layout.CADir())
	if err != nil {
		t.Fatal(err)
	}
	other := mustIssuer(t, ca.Options{Name: "Other CA", TrustDomain: "test.dask"})
	reqs := mustHostRequests(t, "n[1-40]", "10.0.0.0/24")
	for i := range reqs {
		reqs[i].KeyType = []ca.KeyType{ca.ECP256, ca.Ed25519, ca.ECP384}[i%3]
	}
	load := func() (*ca.Authority, error) { return ca.Load(full.Layout.CADir(), pw) }
	for _, tt := range []struct {
		name string
		load func() (*ca.Authority, error)
		want string // error; "" for success
	}{
		{"wrong password", func() (*ca.Authority, error) { return ca.Load(full.Layout.CADir(), []byte("wrong-password")) }, "password"},
		{"another CA", func() (*ca.Authority, error) { return other.CA, nil }, "changed since the plan"},
		{"loaded", load, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := *full
			is.CA = public
			before := tree(t, is.Layout.Dir)
			var got []store.Record
			res, err := is.IssueBulk(context.Background(), mustPlan(t, &is, reqs), BulkOptions{
				LoadCA: tt.load, BatchSize: 16, OnIssued: func(r store.Record) { got = append(got, r) },
			})
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("IssueBulk error = %v, want one about %q", err, tt.want)
				}
				if after := tree(t, is.Layout.Dir); !slices.Equal(before, after) || res.Issued != 0 {
					t.Error("a run whose CA did not load changed the home")
				}
				return
			}
			if err != nil || res.Issued != len(reqs) {
				t.Fatalf("IssueBulk = %+v, %v", res, err)
			}
			for i, r := range got {
				checkFiles(t, full, r)
				kt := ca.KeyTypeOf(readCert(t, r.CertFile)[0].PublicKey)
				if r.KeyType != string(reqs[i].KeyType) || kt != reqs[i].KeyType {
					t.Errorf("%s: key type %s recorded, %s in the certificate; want %s", r.Name, r.KeyType, kt, reqs[i].KeyType)
				}
			}
		})
	}
}
