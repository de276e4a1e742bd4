package enrol

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/store"
)

// TestServerSurvivesHostileClients: garbage bytes, an oversized body,
// broken JSON and 500 idle connections do not stop the server from
// enrolling the next host.
func TestServerSurvivesHostileClients(t *testing.T) {
	f := newFixture(t, Config{}, ca.Options{})
	tok := f.token(t, TokenSpec{Role: identity.Worker, Uses: 10, TTL: time.Hour})
	addr := strings.TrimPrefix(f.url, "https://")
	t.Run("garbage bytes", func(t *testing.T) {
		for _, junk := range [][]byte{[]byte("GET / HTTP/1.0\r\n\r\n"), bytes.Repeat([]byte{0x16, 0x03, 0x01, 0xff}, 1000), {0}} {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write(junk)
			_ = c.Close()
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		body := append([]byte(`{"token":"`), bytes.Repeat([]byte("a"), 2*MaxBody)...)
		status, eb := postJSON(t, f, PathEnrol, append(body, `"}`...))
		if status != http.StatusRequestEntityTooLarge || eb.Code != CodeBadRequest {
			t.Fatalf("got %d %+v, want 413", status, eb)
		}
	})
	t.Run("broken JSON", func(t *testing.T) {
		for _, b := range []string{`{`, `[]`, `{"token":1}`, `{"x":"y"}`, `{} {}`, "\x00\xff", `{"` + tok + `":1}`} {
			status, eb := postJSON(t, f, PathEnrol, []byte(b))
			if status != http.StatusBadRequest || eb.Code != CodeBadRequest || strings.Contains(eb.Error, tok) {
				t.Fatalf("%q: got %d %+v, want 400 without the input", b, status, eb)
			}
		}
	})
	t.Run("500 idle connections", func(t *testing.T) {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for range 500 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		// Half of them also start a TLS handshake and stall after it.
		for _, c := range conns[:250] {
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
			_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
			_ = tc.Handshake()
		}
		if _, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node01"}); err != nil {
			t.Fatalf("enrolling beside 500 idle connections: %v", err)
		}
	})
	if _, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node02"}); err != nil {
		t.Fatalf("enrolling after hostile clients: %v", err)
	}
}

// TestRateLimit: after FailureBurst failed attempts a client address is
// answered 429 without its request being looked at, even with a good
// token, and one refusal event says so.
func TestRateLimit(t *testing.T) {
	f := newFixture(t, Config{FailureBurst: 3, FailureEvery: time.Minute}, ca.Options{})
	tok := f.token(t, TokenSpec{Role: identity.Worker, Uses: 10, TTL: 3 * time.Hour})
	bad, _ := NewToken(f.srv.RootFingerprint())
	for i := range 3 {
		if _, err := Enrol(context.Background(), Request{Server: f.url, Token: bad.String(), Name: "node01"}); err == nil {
			t.Fatalf("attempt %d with a random token succeeded", i)
		}
	}
	for range 2 {
		_, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node01"})
		re, ok := err.(*RefusedError)
		if !ok || re.Status != http.StatusTooManyRequests || re.Body.Code != CodeRateLimited {
			t.Fatalf("got %v, want 429", err)
		}
	}
	limited := 0
	_ = f.store.Events(func(e store.Event) error {
		if e.Kind == store.EventRefuse && strings.Contains(e.Detail, "rate limited") {
			limited++
		}
		return nil
	})
	if limited != 1 {
		t.Fatalf("%d rate-limit events, want 1", limited)
	}
	f.clock.advance(time.Minute + time.Second) // a refill; within the backdate, so the client accepts the certificate
	if _, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node01"}); err != nil {
		t.Fatalf("after the interval: %v", err)
	}
}

// TestTokenNeverStored: neither the token nor its secret is anywhere in
// the inventory file (as `strings inventory.db` would show), in the audit
// log or in the server's log, after creating, using, refusing and revoking.
func TestTokenNeverStored(t *testing.T) {
	var logBuf bytes.Buffer
	f := newFixture(t, Config{Log: newTestLogger(&logBuf)}, ca.Options{})
	tok := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", Uses: 2, TTL: time.Hour})
	if _, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "other"}); err == nil {
		t.Fatal("a name outside the pattern was enrolled")
	}
	pt, _ := ParseToken(tok)
	if _, err := f.store.RevokeToken(pt.ID, "test"); err != nil {
		t.Fatal(err)
	}
	var events bytes.Buffer
	_ = f.store.Events(func(e store.Event) error {
		return json.NewEncoder(&events).Encode(e)
	})
	db, err := os.ReadFile(f.l.Inventory())
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{
		"token":        []byte(tok),
		"secret":       []byte(strings.Split(tok, ".")[2]),
		"raw secret":   pt.Secret,
		"std64 secret": []byte(base64.StdEncoding.EncodeToString(pt.Secret)),
		"secret+root":  []byte(strings.Join(strings.Split(tok, ".")[2:], ".")),
	}
	for what, s := range secrets {
		for where, b := range map[string][]byte{"inventory.db": db, "audit log": events.Bytes(), "server log": logBuf.Bytes()} {
			if bytes.Contains(b, s) {
				t.Errorf("the %s is in the %s", what, where)
			}
		}
	}
	if !bytes.Contains(events.Bytes(), []byte(pt.ID)) {
		t.Error("the audit log does not name the token by its id")
	}
}
