package enrol

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
)

// benchEnrollers is how many hosts enrol at once in BenchmarkEnrolment.
const benchEnrollers = 32

// benchEnrolments is how many enrolments each run of it makes.
const benchEnrolments = 1000

// BenchmarkEnrolment measures, in one run, bare crypto/tls mutual-TLS
// handshakes per second (a new connection each, ECDSA P-256 on both sides,
// no resumption) and enrolments per second (a handshake, a key generation,
// a CSR, a signature and a share of a batched inventory write), each with
// 32 concurrent clients on loopback, benchEnrolments of each. Run it with
//
//	go test ./enrol -run '^$' -bench BenchmarkEnrolment -benchtime 1x
//
// It reports handshakes/s, enrolments/s, their ratio and the seconds the
// 1,000 enrolments took (docs/performance.md).
func BenchmarkEnrolment(b *testing.B) {
	f := newFixture(b, Config{}, ca.Options{})
	for b.Loop() {
		hs := handshakeRate(b, f)
		tok := f.token(b, TokenSpec{Role: identity.Worker, Names: "node*", Uses: benchEnrolments, TTL: time.Hour})
		var next atomic.Int64
		var failed atomic.Int64
		start := time.Now()
		parallel(benchEnrollers, func() {
			for i := next.Add(1); i <= benchEnrolments; i = next.Add(1) {
				if _, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: fmt.Sprintf("node%04d", i)}); err != nil {
					failed.Add(1)
					b.Error(err)
				}
			}
		})
		took := time.Since(start)
		en := float64(benchEnrolments) / took.Seconds()
		b.ReportMetric(hs, "handshakes/s")
		b.ReportMetric(en, "enrolments/s")
		b.ReportMetric(en/hs, "ratio")
		b.ReportMetric(took.Seconds(), "s/1000-enrolments")
	}
}

// handshakeRate is bare mutual-TLS handshakes per second with certificates
// of the fixture's CA.
func handshakeRate(b *testing.B, f *fixture) float64 {
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
	sc, cc := leaf(identity.Worker, fmt.Sprintf("hs-server-%d", time.Now().UnixNano())), leaf(identity.Client, fmt.Sprintf("hs-client-%d", time.Now().UnixNano()))
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Root)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{sc}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool, SessionTicketsDisabled: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
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
	var next atomic.Int64
	start := time.Now()
	parallel(benchEnrollers, func() {
		for i := next.Add(1); i <= benchEnrolments; i = next.Add(1) {
			c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = c.Read(make([]byte, 1))
			_ = c.Close()
		}
	})
	return float64(benchEnrolments) / time.Since(start).Seconds()
}

func parallel(n int, fn func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(fn)
	}
	wg.Wait()
}
