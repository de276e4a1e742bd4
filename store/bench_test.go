package store_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/daskca/daskca/store"
	"github.com/daskca/daskca/store/storetest"
)

// BenchmarkPut1000 measures bulk insertion in batches of 1000 records into
// a growing inventory.
func BenchmarkPut1000(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "inventory.db"), store.Options{})
	g, err := storetest.NewGen(storetest.Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		recs := g.Records(1000)
		b.StartTimer()
		if err := put(s, recs, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "records/s")
}

// filled100k opens a 100,000-record inventory, built once per process.
var filled100k string

func open100k(b *testing.B) *store.Store {
	b.Helper()
	if filled100k == "" {
		dir, err := tempDir()
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, "inventory.db")
		s := mustOpen(b, path, store.Options{})
		if err := storetest.Fill(s, 100_000, storetest.Options{Seed: 5, Now: t0}); err != nil {
			b.Fatal(err)
		}
		s.Close()
		filled100k = path
	}
	return mustOpen(b, filled100k, store.Options{ReadOnly: true})
}

// BenchmarkExpiringBefore100k streams the records of a 100k inventory that
// expired more than 38 days ago (about 5% of them: NotAfter is spread over
// 135 days).
func BenchmarkExpiringBefore100k(b *testing.B) {
	s := open100k(b)
	cut := t0.Add(-38 * 24 * time.Hour)
	n := 0
	for b.Loop() {
		n = 0
		if err := s.ExpiringBefore(cut, func(store.Record) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "records/op")
}

// BenchmarkCert100k looks up random serials in a 100k inventory.
func BenchmarkCert100k(b *testing.B) {
	s := open100k(b)
	var all []string
	if err := s.List(store.Filter{Role: "scheduler"}, func(r store.Record) error { all = append(all, r.Serial); return nil }); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := s.Cert(all[i%len(all)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkOpen100k measures Open of a 100k inventory (about 150 MB, so
// without the full page walk) and VerifyFile (with it).
func BenchmarkOpen100k(b *testing.B) {
	open100k(b).Close()
	if info, err := os.Stat(filled100k); err == nil {
		b.Logf("100k inventory: %d bytes, %d bytes/record", info.Size(), info.Size()/100_000)
	}
	b.Run("Open", func(b *testing.B) {
		for b.Loop() {
			s, err := store.Open(filled100k, store.Options{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	b.Run("VerifyFile", func(b *testing.B) {
		for b.Loop() {
			if err := store.VerifyFile(filled100k); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchDir holds fixtures shared by benchmarks; TestMain removes it.
var benchDir string

func tempDir() (string, error) {
	if benchDir == "" {
		d, err := os.MkdirTemp("", "daskca-store-bench-")
		if err != nil {
			return "", err
		}
		benchDir = d
	}
	return benchDir, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}
