package issue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/store"
)

// benchIssuer is mustIssuer for benchmarks: a fresh CA, home and inventory.
func benchIssuer(b *testing.B) *Issuer {
	b.Helper()
	clock := func() time.Time { return testNow }
	a, err := ca.New(ca.Options{Name: "Bench CA", TrustDomain: "bench.dask", Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	l, err := home.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s, err := store.Open(l.Inventory(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return &Issuer{CA: a, Store: s, Layout: l, Now: clock, Actor: "bench"}
}

// BenchmarkSign measures one leaf: key generation, signing, PEM encoding
// and the inventory record, on one core.
func BenchmarkSign(b *testing.B) {
	is := benchIssuer(b)
	c, err := Request{Role: identity.Worker, Name: "node001", DNS: []string{"node001.dask.internal"}, IPs: []string{"10.0.0.1"}}.check()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := is.signWith(c, is.caFacts(), nil, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}

// BenchmarkIssueBulk measures the whole pipeline on every core: keys,
// signatures, files and batched inventory transactions, into a fresh home
// under the test's temporary directory.
func BenchmarkIssueBulk(b *testing.B) {
	const n = 2000
	for b.Loop() {
		b.StopTimer()
		is := benchIssuer(b)
		reqs := mustHostRequests(b, fmt.Sprintf("node[1-%d].dask.internal", n), "10.0.0.0/20")
		p := mustPlan(b, is, reqs)
		b.StartTimer()
		if _, err := is.IssueBulk(context.Background(), p, BulkOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "certs/s")
}
