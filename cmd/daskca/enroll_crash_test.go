package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/daskca/daskca/enrol"
	"github.com/daskca/daskca/store"
)

// TestServeCrashDuringEnrolments kills daskca serve (SIGKILL) while 32
// hosts enrol, and checks what the inventory says afterwards: every
// certificate a host received is recorded, the token's uses spent equal
// the certificates recorded with it, the audit log's chain is intact and
// the inventory checks clean. A restarted server goes on with the uses
// left.
func TestServeCrashDuringEnrolments(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills a server process")
	}
	home, pw := newHome(t, "Crash CA")
	bin := buildDaskca(t)
	tok := strings.TrimSpace(mustCLI(t, home, "token", "create", "worker", "--names", "node*", "--uses", "1000", "--ttl", "1h"))
	addr := "127.0.0.1:" + freePort(t)
	srv := startRun(t, bin, "serve", "--home", home, "serve", "--listen", addr, "--ip", "127.0.0.1", "--password-file", pw)
	srv.waitLine(t, "listening on")

	var got sync.Map // serial -> name, certificates hosts received
	var n atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 32 {
		wg.Go(func() {
			for ctx.Err() == nil {
				name := fmt.Sprintf("node%04d", n.Add(1))
				is, err := enrol.Enrol(ctx, enrol.Request{Server: "https://" + addr, Token: tok, Name: name})
				if err != nil {
					return // the server is gone
				}
				got.Store(is.Serial, name)
			}
		})
	}
	waitFor(t, "enrolments before the kill", func() (bool, string) {
		c := 0
		got.Range(func(_, _ any) bool { c++; return true })
		return c >= 100, fmt.Sprint(c)
	})
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	cancel()
	wg.Wait()

	s, err := store.Open(filepath.Join(home, "inventory.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	recorded := 0
	if err := s.List(store.Filter{}, func(r store.Record) error {
		recorded++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	received := 0
	got.Range(func(k, v any) bool {
		received++
		if _, err := s.Cert(k.(string)); err != nil {
			t.Errorf("%s received serial %s, which the inventory does not hold: %v", v, k, err)
		}
		return true
	})
	var spent int
	if err := s.Tokens(func(tr store.TokenRecord) error { spent = tr.Uses - tr.UsesLeft; return nil }); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check()
	_ = s.Close()
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("inventory after the kill: %v %v", rep.Problems, err)
	}
	if spent != recorded || recorded < received {
		t.Fatalf("uses spent %d, certificates recorded %d, received %d", spent, recorded, received)
	}
	if out := mustCLI(t, home, "inventory", "check"); !strings.Contains(out, "records") {
		t.Fatalf("inventory check: %s", out)
	}
	t.Logf("killed after %d received, %d recorded", received, recorded)

	// A new server carries on with the uses left.
	addr2 := "127.0.0.1:" + freePort(t)
	srv2 := startRun(t, bin, "serve2", "--home", home, "serve", "--listen", addr2, "--ip", "127.0.0.1", "--password-file", pw)
	srv2.waitLine(t, "listening on")
	if _, err := enrol.Enrol(context.Background(), enrol.Request{Server: "https://" + addr2, Token: tok, Name: "node9999"}); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}
