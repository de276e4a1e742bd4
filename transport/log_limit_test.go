package transport

import (
	"net"
	"strings"
	"testing"
)

// TestRefusedConnectionsLogRateLimited: a scheduler receiving 25 refused
// connections (plaintext on its TLS port) in one interval of its clock
// logs the first ten, then one summary with the count of the others when
// the interval ends, and logs refusals again in the next interval.
func TestRefusedConnectionsLogRateLimited(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	clock := newFakeClock()
	sched, log := mustScheduler(t, s, SchedulerOptions{Now: clock.Now})
	refuse := func(n int) {
		t.Helper()
		for range n {
			c, err := net.Dial("tcp", strings.TrimPrefix(sched.Addr(), "tls://"))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
			_ = c.Close()
		}
	}
	seen := func() int {
		l := sched.refusedConns
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.logged + l.suppressed
	}
	lines := func(part string) int { return strings.Count(log.String(), part) }

	refuse(25)
	waitFor(t, "25 refusals", func() bool { return seen() == 25 })
	if n := lines("msg=\"connection refused\""); n != refusalBurst {
		t.Fatalf("%d refusal lines in the first interval, want %d:\n%s", n, refusalBurst, log)
	}
	if lines("more refused connections") != 0 {
		t.Fatalf("a summary before the interval ended:\n%s", log)
	}
	clock.Advance(refusalInterval)
	sched.refusedConns.flush()
	if !log.has("... and 15 more refused connections, not logged (at most 10 in 10s)", "more=15", "last=\"connection refused\"", "not a TLS handshake record") {
		t.Fatalf("no summary of the 15 left out:\n%s", log)
	}
	refuse(1)
	waitFor(t, "a refusal logged in the next interval", func() bool { return lines("msg=\"connection refused\"") == refusalBurst+1 })
}
