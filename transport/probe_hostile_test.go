package transport

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// hostileEndpoint listens with cert's role (a scheduler's, unless said
// otherwise) and answers every request with reply, already encoded.
func hostileEndpoint(t *testing.T, sec *Security, reply [][]byte) string {
	t.Helper()
	l, err := Listen(context.Background(), "tls://127.0.0.1:0", sec.ServerConfig(), func(c *wire.Comm) {
		for {
			if _, err := c.Read(context.Background()); err != nil {
				return
			}
			if err := c.WriteFrames(context.Background(), reply); err != nil {
				return
			}
		}
	}, ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.Addr()
}

// TestProbeRefusesHostileAnswers probes endpoints that pass TLS and the
// Dask handshake, then answer identity with something no Dask endpoint
// sends: an 8 MiB list of empty maps (which decoded would take 512 MiB),
// a list, a map without a type. The probe fails with ErrNotDask, saying
// why, and the bomb costs it about what was sent, not what it claims.
func TestProbeRefusesHostileAnswers(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	bomb := append([]byte{0xdd, 0x00, 0x7f, 0xff, 0xfb}, bytes.Repeat([]byte{0x80}, bombBytes-5)...)
	tests := []struct {
		name     string
		reply    [][]byte
		wantText string
		maxAlloc uint64
	}{
		{"8 MiB of empty maps", [][]byte{bomb}, "refused before decoding", 4 * bombBytes},
		{"a list", [][]byte{msgpackOf(t, []any{1, 2})}, "is a []interface {}, not a map", 1 << 20},
		{"a map without type", [][]byte{msgpackOf(t, map[string]any{"id": "x"})}, "has no type", 1 << 20},
		{"frame 0 over the probe's limits", [][]byte{bytes.Repeat([]byte{0xc0}, 65<<20)}, "message exceeds limits", 0},
	}
	client := mustSecurity(t, s.cfg, identity.Client)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := hostileEndpoint(t, mustSecurity(t, s.cfg, identity.Scheduler), tt.reply)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res, err := Probe(context.Background(), addr, ProbeOptions{Security: client})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrNotDask) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("probe err = %v, want ErrNotDask saying %q", err, tt.wantText)
			}
			if res.OK || res.Stage != StageIdentity || res.Error == "" {
				t.Errorf("result = %+v", res)
			}
			// The endpoint's goroutines allocate in this process too: the
			// bound covers what they send, and the probe's reading of it.
			if grew := after.TotalAlloc - before.TotalAlloc; tt.maxAlloc > 0 && grew > tt.maxAlloc {
				t.Errorf("the probe allocated %d bytes for a %d-byte answer", grew, len(tt.reply[0]))
			}
		})
	}
}

// TestProbeIdentityMatchesCertificate: an endpoint whose answer to
// identity claims a type its certificate's role cannot have is refused
// under the strict policy (a worker key posing as the scheduler), and
// accepted when both agree, or under the dask policy.
func TestProbeIdentityMatchesCertificate(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	loose := s.cfg
	loose.Daskca.RolePolicy = daskconfig.PolicyDask
	tests := []struct {
		name    string
		cfg     daskconfig.Config
		cert    identity.Role
		typ     string
		wantErr error
	}{
		{"worker certificate answering as a Scheduler", s.cfg, identity.Worker, "Scheduler", ErrPeerRefused},
		{"scheduler certificate answering as a Worker", s.cfg, identity.Scheduler, "Worker", ErrPeerRefused},
		{"scheduler certificate answering as a Nanny", s.cfg, identity.Scheduler, "Nanny", ErrPeerRefused},
		{"unknown type", s.cfg, identity.Scheduler, "Gateway", ErrNotDask},
		{"scheduler as Scheduler", s.cfg, identity.Scheduler, "Scheduler", nil},
		{"worker as Worker", s.cfg, identity.Worker, "Worker", nil},
		{"worker as Nanny", s.cfg, identity.Worker, "Nanny", nil},
		{"dask policy: worker as Scheduler", loose, identity.Worker, "Scheduler", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := [][]byte{msgpackOf(t, map[string]any{"type": tt.typ, "id": tt.typ + "-1", "workers": map[string]any{}})}
			addr := hostileEndpoint(t, mustSecurity(t, tt.cfg, tt.cert), reply)
			res, err := Probe(context.Background(), addr, ProbeOptions{Security: mustSecurity(t, tt.cfg, identity.Client)})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("probe err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && (res.OK || res.Stage != StageIdentity) {
				t.Errorf("result = %+v", res)
			}
			if errors.Is(err, ErrPeerRefused) && !strings.Contains(err.Error(), "posing as one") {
				t.Errorf("error does not explain: %v", err)
			}
		})
	}
}

// TestSchedulerRefusesDecodingBomb sends a Go scheduler, on an
// authenticated worker comm, the 8 MiB list of empty maps that took one
// from 85 MB to 573 MB: it closes the comm, logs why, and the process
// allocates about the size of what was sent, not 64 times it.
func TestSchedulerRefusesDecodingBomb(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, log := mustScheduler(t, s, SchedulerOptions{})
	c, err := dialAs(t, s.cfg, identity.Worker, sched.Addr(), identity.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	bomb := append([]byte{0xdd, 0x00, 0x7f, 0xff, 0xfb}, bytes.Repeat([]byte{0x80}, bombBytes-5)...)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := c.WriteFrames(context.Background(), [][]byte{bomb}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if _, err := c.Read(ctx); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("after the bomb: read %v, want the scheduler to close the comm", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*bombBytes {
		t.Errorf("sending and refusing %d bytes allocated %d", bombBytes, grew)
	}
	waitFor(t, "the scheduler to log the refused message", func() bool {
		return log.has("request failed", "message refused, comm closed", "refused before decoding")
	})
}

// TestSchedulerDropsStreamOnBomb: the same message on a registered
// worker's stream ends the registration, with the reason in the log.
func TestSchedulerDropsStreamOnBomb(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, log := mustScheduler(t, s, SchedulerOptions{})
	c, err := dialAs(t, s.cfg, identity.Worker, sched.Addr(), identity.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	if r := register(t, c, "tls://127.0.0.1:7", "w"); r["status"] != "OK" {
		t.Fatal(r)
	}
	bomb := append([]byte{0xdd, 0x00, 0x7f, 0xff, 0xfb}, bytes.Repeat([]byte{0x80}, bombBytes-5)...)
	if err := c.WriteFrames(context.Background(), [][]byte{bomb}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the worker to be removed, saying why", func() bool {
		return len(sched.Workers()) == 0 && log.has("worker removed", "refused before decoding")
	})
}
