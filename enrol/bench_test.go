package enrol

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
)

// benchEnrollers is how many hosts enrol at once in BenchmarkEnrolment.
const benchEnrollers = 32

// benchEnrolments is how many enrolments (and bare handshakes) each run of
// it makes, in benchRounds rounds of each.
const (
	benchEnrolments = 1000
	benchRounds     = 5
)

// BenchmarkEnrolment measures, in one run, bare crypto/tls mutual-TLS
// handshakes per second (a new connection each, ECDSA P-256 on both sides,
// no resumption) and enrolments per second (a new TLS connection, a key
// generation, a CSR, a signature and a share of a batched inventory write),
// each with 32 concurrent clients on loopback, benchEnrolments of each. The
// two alternate in benchRounds rounds, so that both meet the same load of
// the machine. Run it with
//
//	go test ./enrol -run '^$' -bench BenchmarkEnrolment -benchtime 1x
//
// It reports handshakes/s, enrolments/s, their ratio, the seconds the
// 1,000 enrolments took, and the process CPU time per handshake and per
// enrolment with their ratio (docs/performance.md).
func BenchmarkEnrolment(b *testing.B) {
	// The process runs as daskca serve does; the handshakes of the
	// baseline run under the same setting.
	defer debug.SetGCPercent(debug.SetGCPercent(GCPercent))
	f := newFixture(b, Config{}, ca.Options{})
	bl := newBaseline(b, f)
	per := benchEnrolments / benchRounds
	run := 0
	for b.Loop() {
		run++
		tok := f.token(b, TokenSpec{Role: identity.Worker, Names: "node*", Uses: benchEnrolments, TTL: time.Hour})
		var hsTime, enTime, hsCPU, enCPU time.Duration
		var seq atomic.Int64
		for range benchRounds {
			c0, t0 := processCPU(), time.Now()
			bl.round(b, per)
			c1, t1 := processCPU(), time.Now()
			enrolRound(b, f.url, tok, per, func() string { return fmt.Sprintf("node%d-%04d", run, seq.Add(1)) })
			c2, t2 := processCPU(), time.Now()
			hsTime, enTime = hsTime+t1.Sub(t0), enTime+t2.Sub(t1)
			hsCPU, enCPU = hsCPU+c1-c0, enCPU+c2-c1
		}
		n := float64(per * benchRounds)
		hs, en := n/hsTime.Seconds(), n/enTime.Seconds()
		b.ReportMetric(hs, "handshakes/s")
		b.ReportMetric(en, "enrolments/s")
		b.ReportMetric(en/hs, "ratio")
		b.ReportMetric(enTime.Seconds()*benchEnrolments/n, "s/1000-enrolments")
		if hsCPU > 0 && enCPU > 0 {
			b.ReportMetric(float64(hsCPU.Microseconds())/n, "cpu-us/handshake")
			b.ReportMetric(float64(enCPU.Microseconds())/n, "cpu-us/enrolment")
			b.ReportMetric(float64(hsCPU)/float64(enCPU), "cpu-ratio")
		}
	}
}

// enrolRound makes n enrolments with benchEnrollers concurrent clients.
func enrolRound(b *testing.B, url, tok string, n int, name func() string) {
	var next atomic.Int64
	parallel(benchEnrollers, func() {
		for i := next.Add(1); i <= int64(n); i = next.Add(1) {
			if _, err := Enrol(context.Background(), Request{Server: url, Token: tok, Name: name()}); err != nil {
				b.Error(err)
			}
		}
	})
}

// baseline is a bare crypto/tls server asking for client certificates,
// with certificates of the fixture's CA on both sides.
type baseline struct {
	addr string
	cfg  *tls.Config // the clients'
}

func newBaseline(b *testing.B, f *fixture) *baseline {
	b.Helper()
	leaf := func(role identity.Role, name string) tls.Certificate {
		is, err := f.srv.is.Issue(context.Background(), issueRequest(role, name))
		if err != nil {
			b.Fatal(err)
		}
		c, err := tls.LoadX509KeyPair(is.CertFile, is.KeyFile)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	sc, cc := leaf(identity.Worker, "hs-server"), leaf(identity.Client, "hs-client")
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Root)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{sc}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool, SessionTicketsDisabled: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err == nil {
					_, _ = c.Write([]byte{1})
				}
			}()
		}
	}()
	cfg := &tls.Config{Certificates: []tls.Certificate{cc}, RootCAs: pool, ServerName: "127.0.0.1",
		InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool})
			return err
		}}
	return &baseline{addr: ln.Addr().String(), cfg: cfg}
}

// round makes n mutual-TLS handshakes with benchEnrollers concurrent
// clients, each on a new connection that reads the server's one byte.
func (bl *baseline) round(b *testing.B, n int) {
	var next atomic.Int64
	parallel(benchEnrollers, func() {
		for i := next.Add(1); i <= int64(n); i = next.Add(1) {
			c, err := tls.Dial("tcp", bl.addr, bl.cfg)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = c.Read(make([]byte, 1))
			_ = c.Close()
		}
	})
}

func parallel(n int, fn func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(fn)
	}
	wg.Wait()
}
