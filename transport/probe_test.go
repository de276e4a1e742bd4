package transport

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

func TestProbeReportsEverything(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, _ := mustScheduler(t, s, SchedulerOptions{})
	w, _ := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), sched.Addr(), WorkerOptions{})
	waitRegistered(t, w, 1)
	res, err := Probe(context.Background(), sched.Addr(), ProbeOptions{Security: mustSecurity(t, s.cfg, identity.Client)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.Stage != StageDone || res.Error != "" {
		t.Errorf("result = %+v", res)
	}
	if res.TLS == nil || res.TLS.Version != "TLS 1.3" || res.TLS.Cipher == "" || res.TLS.OurRole != "client" {
		t.Errorf("tls = %+v", res.TLS)
	}
	if len(res.PeerChain) != 1 {
		t.Fatalf("peer chain = %+v", res.PeerChain)
	}
	leaf, want := res.PeerChain[0], s.leaves[identity.Scheduler].cert
	if leaf.Role != "scheduler" || leaf.Name != "scheduler-1" || leaf.Serial != want.SerialNumber.Text(16) ||
		!leaf.NotAfter.Equal(want.NotAfter) || !slices.Contains(leaf.IPs, "::1") {
		t.Errorf("peer certificate = %+v", leaf)
	}
	if res.Handshake == nil || !slices.Equal(res.Handshake.Python, wire.DefaultHandshake.Python) || res.Handshake.PickleProtocol != 5 {
		t.Errorf("dask handshake = %+v", res.Handshake)
	}
	if id := res.Identity; id == nil || id.Type != "Scheduler" || id.ID != sched.ID() || id.Workers != 1 {
		t.Errorf("identity = %+v", res.Identity)
	}
	if got, _ := res.ExpiresFirst(); !got.Equal(want.NotAfter) {
		t.Errorf("ExpiresFirst = %v, want %v", got, want.NotAfter)
	}
}

func TestProbeFailures(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, schedLog := mustScheduler(t, s, SchedulerOptions{})
	plain, err := ListenScheduler(context.Background(), nil, SchedulerOptions{Listen: "tcp://127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	closed := closedPort(t)

	// A client certificate from another CA; its bundle trusts both CAs,
	// so only the scheduler's check of our certificate can fail.
	foreign := mustSecSetup(t, "example.org")
	foreignCfg := foreign.cfg
	foreignCfg.TLS.CAFile = mustWrite(t, t.TempDir(), "both.pem", append(append([]byte{}, s.ca.pem...), foreign.ca.pem...))
	tls12 := foreignCfg
	tls12.TLS.MaxVersion = 1.2

	tests := []struct {
		name   string
		addr   string
		cfg    daskconfig.Config
		expect []identity.Role
		want   error
		stage  string
	}{
		{"foreign CA under TLS 1.3", sched.Addr(), foreignCfg, nil, ErrRejected, StageHandshake},
		{"foreign CA under TLS 1.2", sched.Addr(), tls12, nil, ErrRejected, StageTLS},
		{"we refuse the peer's role", sched.Addr(), s.cfg, []identity.Role{identity.Worker}, ErrPeerRefused, StageTLS},
		{"tcp endpoint", strings.Replace(plain.Addr(), "tcp://", "tls://", 1), s.cfg, nil, ErrNotTLS, StageTLS},
		{"nothing listening", closed, s.cfg, nil, ErrUnreachable, StageConnect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec := mustSecurity(t, tt.cfg, identity.Client)
			res, err := Probe(context.Background(), tt.addr, ProbeOptions{Security: sec, Expect: tt.expect})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if res.OK || res.Stage != tt.stage || res.Error != err.Error() {
				t.Errorf("result = %+v, want stage %s", res, tt.stage)
			}
			if tt.stage != StageConnect && tt.want != ErrNotTLS && (len(res.PeerChain) == 0 || res.PeerChain[0].Role != "scheduler") {
				t.Errorf("peer chain not recorded: %+v", res.PeerChain)
			}
		})
	}
	// The scheduler logs the refusal after the probe has seen it fail.
	waitFor(t, "the scheduler to log the foreign certificate", func() bool {
		return schedLog.has("connection refused", "unknown authority")
	})
	t.Run("plain tcp", func(t *testing.T) {
		res, err := Probe(context.Background(), plain.Addr(), ProbeOptions{})
		if err != nil || res.TLS != nil || res.Identity.Type != "Scheduler" {
			t.Errorf("probe of tcp = %+v, %v", res, err)
		}
	})
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "tls://" + l.Addr().String()
	_ = l.Close()
	return addr
}

func TestHotReloadUnderLiveConnections(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	schedSec := mustSecurity(t, s.cfg, identity.Scheduler)
	clock := newFakeClock()
	sched, err := ListenScheduler(context.Background(), schedSec, SchedulerOptions{Listen: "tls://127.0.0.1:0", Now: clock.Now, HeartbeatInterval: 10e6})
	if err != nil {
		t.Fatal(err)
	}
	defer sched.Close()
	workerSec := mustSecurity(t, s.cfg, identity.Worker)
	w, _ := mustWorker(t, workerSec, sched.Addr(), WorkerOptions{})
	st := waitRegistered(t, w, 1)
	oldWorker := s.leaves[identity.Worker].cert.SerialNumber.Text(16)

	// Renew both certificates in place, as daskca renew does, and reload.
	s.put(t, identity.Worker, s.ca.issue(t, leafSpec{role: identity.Worker}))
	s.put(t, identity.Scheduler, s.ca.issue(t, leafSpec{role: identity.Scheduler}))
	for _, sec := range []*Security{workerSec, schedSec} {
		if err := sec.Reload(); err != nil {
			t.Fatal(err)
		}
	}

	// Established connections stay: the same registration, still alive.
	seen := sched.Workers()[0].LastSeen
	clock.Advance(1e9)
	waitFor(t, "a heartbeat after the reload", func() bool { return sched.Workers()[0].LastSeen.After(seen) })
	if got := w.Status(); got.Registrations != 1 || !got.Registered {
		t.Errorf("the worker reconnected: %+v", got)
	}
	if got := sched.Workers()[0].Peer.Serial; got != oldWorker {
		t.Errorf("registration serial = %s, want the original %s", got, oldWorker)
	}
	// New handshakes see the new certificates, on both listeners.
	client := mustSecurity(t, s.cfg, identity.Client)
	for _, p := range []struct {
		addr string
		role identity.Role
	}{{sched.Addr(), identity.Scheduler}, {st.Address, identity.Worker}} {
		res, err := Probe(context.Background(), p.addr, ProbeOptions{Security: client})
		if err != nil {
			t.Fatal(err)
		}
		if want := s.leaves[p.role].cert.SerialNumber.Text(16); res.PeerChain[0].Serial != want {
			t.Errorf("%s presents serial %s, want the new %s", p.role, res.PeerChain[0].Serial, want)
		}
	}
}
