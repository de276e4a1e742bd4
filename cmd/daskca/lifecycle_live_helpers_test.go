package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// The helpers of lifecycle_live_test.go: a cluster of daskca run processes
// on one home, and the waits and checks that read their logs, probe them
// and ask the scheduler who is registered.

// liveReload is the endpoints' daskca.reload-interval, short so that the
// test does not wait long for them to notice new files.
const liveReload = 200 * time.Millisecond

// liveCluster is a home with a published CRL, a scheduler, three workers
// and a client for 127.0.0.1, and the scheduler and workers running as
// daskca run processes configured by daskca config --format yaml.
type liveCluster struct {
	home, pw, dir, bin string
	sched              *runProc
	addr               string // the scheduler's
	workers            map[string]*liveWorker
}

// liveWorker is a running worker and what it registered with.
type liveWorker struct {
	proc   *runProc
	addr   string // where it listens
	serial string // the certificate it registered with
}

var liveWorkerNames = []string{"w1", "w2", "w3"}

func newLiveCluster(t *testing.T) *liveCluster {
	t.Helper()
	dir := t.TempDir()
	c := &liveCluster{home: filepath.Join(dir, "home"), pw: filepath.Join(dir, "pw"), dir: dir,
		bin: buildDaskca(t), workers: map[string]*liveWorker{}}
	if err := os.WriteFile(c.pw, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, c.home, "init", "--name", "Live CA", "--password-file", c.pw)
	mustCLI(t, c.home, "crl", "--password-file", c.pw) // before config, so that configs name it
	eps := [][]string{{"scheduler", "sched"}, {"worker", "w1"}, {"worker", "w2"}, {"worker", "w3"}, {"client", "alice"}}
	for _, ep := range eps {
		mustCLI(t, c.home, "issue", ep[0], ep[1], "--dns", "localhost", "--ip", "127.0.0.1", "--password-file", c.pw)
		c.writeConfig(t, ep[1])
	}
	c.sched, c.addr = startRunScheduler(t, c.bin, c.config("sched"))
	for _, n := range liveWorkerNames {
		c.startWorker(t, n)
	}
	return c
}

// writeConfig writes NAME.yaml: what daskca config NAME --format yaml
// prints, which must name the home's CRL, with the short reload interval.
func (c *liveCluster) writeConfig(t *testing.T, name string) {
	t.Helper()
	cfg, err := daskconfig.ParseYAML([]byte(mustCLI(t, c.home, "config", name, "--format", "yaml")))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.home, "crl.pem"); cfg.Daskca.CRLFile != want {
		t.Fatalf("config %s: daskca.crl-file = %q, want %q", name, cfg.Daskca.CRLFile, want)
	}
	cfg.Daskca.ReloadInterval = liveReload
	writeYAML(t, c.config(name), cfg)
}

func writeYAML(t *testing.T, path string, cfg daskconfig.Config) {
	t.Helper()
	y, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, y, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (c *liveCluster) config(name string) string { return filepath.Join(c.dir, name+".yaml") }

// certFile is the certificate file of an endpoint in the home.
func (c *liveCluster) certFile(role, name string) string {
	return filepath.Join(c.home, "certs", role, name, "cert.pem")
}

// startWorker starts worker name and waits for it to register.
func (c *liveCluster) startWorker(t *testing.T, name string) {
	t.Helper()
	p := startRunWorker(t, c.bin, c.addr, c.config(name), "--name", name)
	w := &liveWorker{proc: p, addr: logValue(t, p.waitLine(t, "worker listening"), "address")}
	line := c.sched.waitLine(t, "worker registered", "name="+name, "address="+w.addr)
	w.serial = logValue(t, line, "serial")
	p.waitLine(t, "registered with the scheduler", "role=scheduler", "name=sched")
	c.workers[name] = w
}

// procs are the running processes by name.
func (c *liveCluster) procs() map[string]*runProc {
	out := map[string]*runProc{"sched": c.sched}
	for n, w := range c.workers {
		out[n] = w.proc
	}
	return out
}

// marks are log offsets, to look only at what processes logged after them.
type marks map[string]int

func (c *liveCluster) mark() marks {
	m := marks{}
	for n, p := range c.procs() {
		m[n] = len(p.out.String())
	}
	return m
}

// linesSince returns the lines p logged after offset that hold every part.
func linesSince(p *runProc, offset int, parts ...string) []string {
	var out []string
	for line := range strings.Lines(p.out.String()[offset:]) {
		if containsAll(line, parts) {
			out = append(out, line)
		}
	}
	return out
}

// waitReloaded waits until each process named in serials logs, after m,
// that it reloaded its material and now serves serials[name] (its current
// serial when ""). The first file a command writes triggers the reload, so
// a reload after m has seen at least that change.
func (c *liveCluster) waitReloaded(t *testing.T, m marks, serials map[string]string) {
	t.Helper()
	for n, want := range serials {
		p := c.procs()[n]
		if want == "" {
			want = fileSerial(t, c.certFile(roleOf(n), n))
		}
		waitFor(t, n+" to reload its material", func() (bool, string) {
			for _, line := range linesSince(p, m[n], "tls material reloaded") {
				if logValue(t, line, "serial") == want {
					return true, ""
				}
			}
			return false, p.out.String()
		})
	}
}

func roleOf(name string) string {
	switch {
	case name == "sched":
		return "scheduler"
	case strings.HasPrefix(name, "w"):
		return "worker"
	}
	return "client"
}

// waitFor polls cond until it holds, failing with its last detail after
// runWait.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(runWait)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s:\n%s", runWait, what, detail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probe runs daskca probe ADDR --config FILE and returns its exit code, the
// peer's leaf certificate and the whole result.
func (c *liveCluster) probe(t *testing.T, addr, config string, extra ...string) (code int, peer map[string]any, res map[string]any) {
	t.Helper()
	code, res, _ = probeJSON(t, c.home, addr, config, extra...)
	if chain, _ := res["peer_chain"].([]any); len(chain) > 0 {
		peer, _ = chain[0].(map[string]any)
	}
	return code, peer, res
}

// probeShows probes addr with config and reports whether it succeeds with
// the peer presenting serial from issuer.
func (c *liveCluster) probeShows(t *testing.T, addr, config, serial, issuer string) (bool, string) {
	t.Helper()
	code, peer, res := c.probe(t, addr, config)
	ok := code == 0 && peer["serial"] == serial && peer["issuer"] == issuer
	return ok, fmt.Sprintf("probe %s: exit %d, want serial %s from %q: %v", addr, code, serial, issuer, res)
}

// registration is a worker as the scheduler's identity reply shows it.
type registration struct {
	addr, serial string
	lastSeen     float64
}

// registered asks the scheduler (as alice, over mutual TLS) which workers
// are registered, by name, with the certificate each registered with.
func (c *liveCluster) registered(t *testing.T) map[string]registration {
	t.Helper()
	cfg, err := daskconfig.LoadFile(c.config("alice"))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := transport.NewSecurity(cfg, identity.Client, transport.SecurityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sec.Close()
	a, err := daskconfig.ParseAddr(c.addr, "tls")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runWait)
	defer cancel()
	comm, err := transport.Connect(ctx, c.addr, sec.ClientConfigFor(a, identity.Scheduler), wire.CommOptions{})
	if err != nil {
		t.Fatalf("connecting to the scheduler as alice: %v", err)
	}
	defer func() { _ = wire.CloseRPC(ctx, comm) }()
	v, err := wire.Call(ctx, comm, "identity", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := v.(map[string]any)
	workers, _ := id["workers"].(map[string]any)
	out := map[string]registration{}
	for addr, w := range workers {
		w, _ := w.(map[string]any)
		cert, _ := w["certificate"].(map[string]any)
		seen, _ := w["last_seen"].(float64)
		out[fmt.Sprint(w["name"])] = registration{addr: addr, serial: fmt.Sprint(cert["serial"]), lastSeen: seen}
	}
	return out
}

// fileSerial and fileIssuer read the leaf of a certificate file as probe
// reports it.
func fileSerial(t *testing.T, path string) string {
	t.Helper()
	certs, err := readCerts(path)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0].SerialNumber.Text(16)
}

func fileIssuer(t *testing.T, path string) string {
	t.Helper()
	certs, err := readCerts(path)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0].Issuer.String()
}

// current maps every running process to its current serial ("": read it
// from its certificate file).
func (c *liveCluster) current(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for n := range c.procs() {
		out[n] = ""
	}
	return out
}

// addrs are the listening addresses of the running processes, by name.
func (c *liveCluster) addrs() map[string]string {
	out := map[string]string{"sched": c.addr}
	for n, w := range c.workers {
		out[n] = w.addr
	}
	return out
}

// waitLogged waits until p logs, after offset, a line holding every part.
func (c *liveCluster) waitLogged(t *testing.T, p *runProc, offset int, parts ...string) {
	t.Helper()
	waitFor(t, p.name+" to log "+strings.Join(parts, " + "), func() (bool, string) {
		return len(linesSince(p, offset, parts...)) > 0, p.out.String()
	})
}

// checkStreams checks that no established connection was dropped: every
// running worker registered once, at the start, and the scheduler still
// lists it with the certificate it registered with (a new registration
// would carry its current one); neither side logged a lost stream, a failed
// heartbeat or a removal of another worker; and heartbeats keep arriving.
func (c *liveCluster) checkStreams(t *testing.T) {
	t.Helper()
	regs := c.registered(t)
	if len(regs) != len(c.workers) {
		t.Errorf("the scheduler lists %d workers, want %d: %v", len(regs), len(c.workers), regs)
	}
	for n, w := range c.workers {
		if r := regs[n]; r.addr != w.addr || r.serial != w.serial {
			t.Errorf("%s is registered as %+v, want address %s with serial %s", n, r, w.addr, w.serial)
		}
		if k := len(linesSince(c.sched, 0, "worker registered", "name="+n)); k != 1 {
			t.Errorf("the scheduler logged %d registrations of %s, want 1", k, n)
		}
		if k := len(linesSince(w.proc, 0, "registered with the scheduler")); k != 1 {
			t.Errorf("%s registered %d times, want 1", n, k)
		}
		for _, bad := range []string{"lost the scheduler", "heartbeat failed", "cannot register"} {
			if lines := linesSince(w.proc, 0, bad); len(lines) > 0 {
				t.Errorf("%s logged %q", n, lines)
			}
		}
	}
	for _, bad := range []string{"worker removed", "worker forgotten"} {
		for _, line := range linesSince(c.sched, 0, bad) {
			if _, running := c.workers[logValue(t, line, "name")]; running {
				t.Errorf("the scheduler dropped a running worker: %s", line)
			}
		}
	}
	waitFor(t, "a heartbeat from every worker", func() (bool, string) {
		now := c.registered(t)
		for n, r := range regs {
			if now[n].lastSeen <= r.lastSeen {
				return false, c.sched.out.String()
			}
		}
		return true, ""
	})
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
