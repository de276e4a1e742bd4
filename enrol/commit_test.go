package enrol

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/store"
)

// commits records the batches a fixture's server commits.
type commits struct {
	mu    sync.Mutex
	sizes [][2]int // enrolments, refusals
}

func watchCommits(f *fixture) *commits {
	c := &commits{}
	f.srv.onCommit = func(items, refusals int) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.sizes = append(c.sizes, [2]int{items, refusals})
	}
	return c
}

func (c *commits) get() [][2]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][2]int(nil), c.sizes...)
}

// TestGroupCommitWaitsForRequestsInProgress checks that the committer,
// holding a decision, waits for a request that is still being decided and
// records both in one transaction, and that a lone decision is recorded
// without waiting (CommitDelay is an hour here: waiting for it would hang
// the test).
func TestGroupCommitWaitsForRequestsInProgress(t *testing.T) {
	t.Run("waits for a request in progress", func(t *testing.T) {
		f := newFixture(t, Config{CommitDelay: time.Hour}, ca.Options{})
		c := watchCommits(f)
		fl := f.srv.takeOff() // a request being decided
		first := &pending{refusal: &store.Refusal{Client: "192.0.2.1", Reason: "first"}, done: make(chan error, 1)}
		waiting := make(chan struct{}, 1)
		f.srv.onWait = func() { waiting <- struct{}{} }
		f.srv.queue <- first
		select { // the committer holds it and waits for the request
		case <-waiting:
		case <-first.done:
			t.Fatal("the committer recorded a decision without waiting for the request being decided")
		}
		// The second decision is that request's; once it has queued it,
		// nothing is in progress and the committer records both.
		f.srv.refuse(fl, store.Refusal{Client: "192.0.2.2", Reason: "second"})
		if err := <-first.done; err != nil {
			t.Fatal(err)
		}
		if got := c.get(); len(got) != 1 || got[0] != [2]int{0, 2} {
			t.Errorf("commits (enrolments, refusals) = %v, want one of (0, 2)", got)
		}
	})
	t.Run("a lone decision is recorded at once", func(t *testing.T) {
		f := newFixture(t, Config{CommitDelay: time.Hour}, ca.Options{})
		c := watchCommits(f)
		fl := f.srv.takeOff()
		f.srv.refuse(fl, store.Refusal{Client: "192.0.2.1", Reason: "alone"})
		fl.land() // as the handler's deferred land does: counted once
		f.srv.refuse(nil, store.Refusal{Client: "192.0.2.1", Reason: "alone again"})
		if got := c.get(); len(got) != 2 || got[0] != [2]int{0, 1} || got[1] != [2]int{0, 1} {
			t.Errorf("commits (enrolments, refusals) = %v, want two of (0, 1)", got)
		}
		if n := f.srv.deciding.Load(); n != 0 {
			t.Errorf("%d requests still counted as being decided, want 0", n)
		}
	})
}

// TestGroupCommitWaitsForConnections: a connection counts as a request on
// its way from the moment it is accepted, so the committer, holding an
// enrolment, waits for a connection that is still in its handshake (here
// one that sends nothing) and records once it is gone; with no other
// connection open, an enrolment is recorded without waiting.
func TestGroupCommitWaitsForConnections(t *testing.T) {
	f := newFixture(t, Config{CommitDelay: time.Hour}, ca.Options{})
	c := watchCommits(f)
	tok := f.token(t, TokenSpec{Role: identity.Worker, Names: "node*", Uses: 2, TTL: time.Hour})
	if _, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node1"}); err != nil {
		t.Fatal(err) // alone: recorded at once (CommitDelay is an hour)
	}
	idle, err := net.Dial("tcp", strings.TrimPrefix(f.url, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	waiting := make(chan struct{}, 1)
	f.srv.onWait = func() { waiting <- struct{}{} }
	done := make(chan error, 1)
	go func() {
		_, err := Enrol(context.Background(), Request{Server: f.url, Token: tok, Name: "node2"})
		done <- err
	}()
	select {
	case <-waiting:
	case err := <-done:
		t.Fatalf("enrolment recorded (%v) without waiting for the connection in its handshake", err)
	}
	idle.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := c.get(); len(got) != 2 || got[0] != [2]int{1, 0} || got[1] != [2]int{1, 0} {
		t.Errorf("commits (enrolments, refusals) = %v, want two of (1, 0)", got)
	}
}
