package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/internal/testkit/testca"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
)

// These tests run real Dask (the host's 2022.12 and, when built, trixie's
// 2024.12) against the scheduler, worker and probe of this package. A
// missing host Dask fails them; see internal/testkit/dasktest.

// pythonTimeout bounds every Python script; Dask's own timeouts inside are
// 10 s.
const pythonTimeout = 90 * time.Second

// pki is one CA with a certificate per role, written where rt can read it.
type pki struct {
	rt    dasktest.Runtime
	ca    *testca.CA
	dir   string
	files map[identity.Role][2]string // cert, key
	caPEM string
}

func mustPKI(t *testing.T, rt dasktest.Runtime, ca *testca.CA) *pki {
	t.Helper()
	p := &pki{rt: rt, ca: ca, dir: rt.TempDir(t), files: map[identity.Role][2]string{}}
	for _, r := range identity.Roles {
		cert, key, caFile := ca.WriteFiles(t, p.dir, r, string(r)+"-1")
		p.files[r], p.caPEM = [2]string{cert, key}, caFile
	}
	return p
}

// config is the transport configuration of role on the host.
func (p *pki) config(r identity.Role) daskconfig.Config {
	var c daskconfig.Config
	c.TLS.CAFile = p.caPEM
	c.TLS.SetFiles(r, daskconfig.RoleFiles{Cert: p.files[r][0], Key: p.files[r][1]})
	return c
}

func (p *pki) security(t *testing.T, r identity.Role) *transport.Security {
	t.Helper()
	sec, err := transport.NewSecurity(p.config(r), r, transport.SecurityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sec.Close() })
	return sec
}

// daskFlags are the TLS flags of `dask scheduler` and `dask worker` for
// role, with paths as rt sees them.
func (p *pki) daskFlags(t *testing.T, r identity.Role) []string {
	t.Helper()
	return []string{"--tls-ca-file", p.rt.Path(t, p.caPEM), "--tls-cert", p.rt.Path(t, p.files[r][0]), "--tls-key", p.rt.Path(t, p.files[r][1])}
}

// pyEnv passes role's files to a Python script as CA, CERT and KEY.
func (p *pki) pyEnv(t *testing.T, r identity.Role, caFile string) []string {
	t.Helper()
	return []string{"CA=" + p.rt.Path(t, caFile), "CERT=" + p.rt.Path(t, p.files[r][0]), "KEY=" + p.rt.Path(t, p.files[r][1])}
}

// logSink collects a scheduler's log for assertions.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitLog waits up to a bound for a line of l holding every part.
func waitLog(t *testing.T, l *logSink, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for line := range strings.Lines(l.String()) {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line with %q in:\n%s", parts, l)
}

func startScheduler(t *testing.T, p *pki) (*transport.Scheduler, *logSink) {
	t.Helper()
	log := &logSink{}
	s, err := transport.ListenScheduler(context.Background(), p.security(t, identity.Scheduler),
		transport.SchedulerOptions{Listen: "tls://127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, log
}

func TestInteropDaskRPCReadsOurScheduler(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			p := mustPKI(t, rt, testca.New(t))
			sched, log := startScheduler(t, p)
			w, err := transport.ListenWorker(context.Background(), p.security(t, identity.Worker),
				transport.WorkerOptions{Scheduler: sched.Addr(), Listen: "tls://127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			waitLog(t, log, "worker registered")

			env := append(p.pyEnv(t, identity.Client, p.caPEM), "ADDR="+sched.Addr())
			out, err := rt.RunPython(t, dasktest.RPCIdentityScript, env, pythonTimeout)
			if err != nil {
				t.Fatalf("rpc identity: %v\n%s", err, log)
			}
			var got struct {
				Type, ID, Address string
				Workers           []string
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %q", err, out)
			}
			if got.Type != "Scheduler" || got.ID != sched.ID() || got.Address != sched.Addr() ||
				len(got.Workers) != 1 || got.Workers[0] != w.Status().Address {
				t.Errorf("Dask read identity %+v; scheduler %s at %s with worker %s", got, sched.ID(), sched.Addr(), w.Status().Address)
			}
			waitLog(t, log, "msg=connection", "role=client", "name=client-1")

			t.Run("client from another CA", func(t *testing.T) {
				foreign := mustPKI(t, rt, testca.New(t, testca.WithCommonName("unrelated CA")))
				env := append(foreign.pyEnv(t, identity.Client, p.caPEM), "ADDR="+sched.Addr())
				if out, err := rt.RunPython(t, dasktest.RPCIdentityScript, env, pythonTimeout); err == nil {
					t.Fatalf("a client certificate from another CA read the identity: %s", out)
				}
				waitLog(t, log, "connection refused", "unknown authority")
			})
		})
	}
}

func TestInteropProbeReadsDaskScheduler(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			p := mustPKI(t, rt, testca.New(t))
			dask := rt.StartScheduler(t, dasktest.SchedulerOptions{Args: p.daskFlags(t, identity.Scheduler)})
			res, err := transport.Probe(context.Background(), dask.Addr, transport.ProbeOptions{Security: p.security(t, identity.Client)})
			if err != nil {
				t.Fatalf("probe: %v", err)
			}
			if res.Identity.Type != "Scheduler" || !strings.HasPrefix(res.Identity.ID, "Scheduler-") || res.Identity.Address != dask.Addr {
				t.Errorf("identity = %+v", res.Identity)
			}
			if res.PeerChain[0].Role != "scheduler" || res.TLS.Version != "TLS 1.3" || len(res.Handshake.Python) < 2 || res.Handshake.Python[0] != 3 {
				t.Errorf("probe result = %+v %+v %+v", res.PeerChain[0], res.TLS, res.Handshake)
			}

			// Our client certificate from another CA; our bundle trusts
			// both CAs, so only Dask's check of our certificate can fail.
			foreign := mustPKI(t, rt, testca.New(t, testca.WithCommonName("unrelated CA")))
			cfg := foreign.config(identity.Client)
			cfg.TLS.CAFile = filepath.Join(foreign.dir, "both.pem")
			mustCat(t, cfg.TLS.CAFile, p.caPEM, foreign.caPEM)
			for _, tt := range []struct {
				name  string
				max   float64
				stage string
			}{{"TLS 1.3", 0, transport.StageHandshake}, {"TLS 1.2", 1.2, transport.StageTLS}} {
				t.Run("foreign CA under "+tt.name, func(t *testing.T) {
					cfg.TLS.MaxVersion = tt.max
					sec, err := transport.NewSecurity(cfg, identity.Client, transport.SecurityOptions{})
					if err != nil {
						t.Fatal(err)
					}
					before := dask.CountLines(dasktest.LogTLSHandshakeFailed)
					res, err := transport.Probe(context.Background(), dask.Addr, transport.ProbeOptions{Security: sec})
					if !errors.Is(err, transport.ErrRejected) || res.Stage != tt.stage {
						t.Errorf("probe with a foreign certificate: stage %s, %v; want ErrRejected at %s", res.Stage, err, tt.stage)
					}
					waitCount(t, dask, dasktest.LogTLSHandshakeFailed, before+1)
				})
			}
		})
	}
}

func TestInteropDaskWorkerAndOurScheduler(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			p := mustPKI(t, rt, testca.New(t))
			sched, log := startScheduler(t, p)
			t.Run("client certificate is refused", func(t *testing.T) {
				args := append([]string{"--no-nanny"}, p.daskFlags(t, identity.Client)...)
				rt.StartWorker(t, sched.Addr(), dasktest.WorkerOptions{Args: args, WaitFor: dasktest.LogWorkerAt})
				waitLog(t, log, "worker registration refused", "role=client", "needs a worker certificate")
			})
			t.Run("worker certificate registers", func(t *testing.T) {
				args := append([]string{"--no-nanny", "--name", "real-dask"}, p.daskFlags(t, identity.Worker)...)
				dw := rt.StartWorker(t, sched.Addr(), dasktest.WorkerOptions{Args: args})
				ws := sched.Workers()
				if len(ws) != 1 || ws[0].Address != dw.Addr || ws[0].Name != "real-dask" || ws[0].Peer.ID.Role != identity.Worker {
					t.Errorf("workers = %+v, want the real worker at %s", ws, dw.Addr)
				}
			})
			res, err := transport.Probe(context.Background(), sched.Addr(), transport.ProbeOptions{Security: p.security(t, identity.Client)})
			if err != nil || res.Identity.Type != "Scheduler" {
				t.Errorf("the scheduler after real workers: %+v, %v\n%s", res.Identity, err, log)
			}
		})
	}
}

func mustCat(t *testing.T, dst string, srcs ...string) {
	t.Helper()
	var b []byte
	for _, s := range srcs {
		b = append(b, mustRead(t, s)...)
	}
	mustWriteFile(t, dst, b)
}

// waitCount waits for the n-th log line of p holding substr.
func waitCount(t *testing.T, p *dasktest.Proc, substr string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for p.CountLines(substr) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s logged %q %d times, want %d", p.Name, substr, p.CountLines(substr), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustWriteFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
