package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daskca/daskca/internal/testkit/testtier"
	"github.com/daskca/daskca/lifecycle"
	"github.com/daskca/daskca/transport/daskconfig"
)

// TestLiveLifecycle runs a scheduler and three workers as daskca run
// processes, configured by daskca config, and takes their certificates
// through the whole lifecycle while they run: (a) every worker certificate
// is renewed, (b) a worker is revoked and its next connection is refused,
// (c) the CA is rotated through begin, issue and finish. After each step no
// established connection was dropped (every worker is still registered on
// the stream it opened at the start, and heartbeats still arrive on theirs)
// and daskca probe shows each endpoint's current serial and issuer.
func TestLiveLifecycle(t *testing.T) {
	testtier.Full(t, "a scheduler and three workers run through renewal, revocation and rotation")
	c := newLiveCluster(t)
	c.checkStreams(t)
	c.renewWorkers(t)
	c.revokeWorker(t, "w3")
	c.rotateCA(t)
}

// renewWorkers is step (a): renew --role worker --all. Each worker reloads
// its new certificate, which new handshakes show, while its registration
// stays on the old one's stream.
func (c *liveCluster) renewWorkers(t *testing.T) {
	t.Helper()
	m := c.mark()
	var res []lifecycle.Renewal
	out := mustCLI(t, c.home, "renew", "--role", "worker", "--all", "-o", "json", "--password-file", c.pw)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("renew -o json: %v\n%s", err, out)
	}
	if len(res) != len(c.workers) {
		t.Fatalf("renewed %d certificates, want the %d workers': %s", len(res), len(c.workers), out)
	}
	want := map[string]string{}
	for _, r := range res {
		w := c.workers[r.Name]
		if w == nil || r.Action != "renewed" || r.OldSerial != w.serial || r.NewSerial == w.serial {
			t.Fatalf("unexpected renewal %+v", r)
		}
		want[r.Name] = r.NewSerial
	}
	t.Logf("(a) renewed: %v", want)
	c.waitReloaded(t, m, want)
	c.checkProbes(t, c.config("alice"), fileIssuer(t, c.certFile("scheduler", "sched")))
	c.checkStreams(t)
}

// revokeWorker is step (b): after revoke, every endpoint reloads the CRL;
// the revoked identity is refused on new connections, whichever side it
// is on, while every other worker stays. Revoking the endpoint by name also
// revokes the certificate its renewal in step (a) superseded, the one its
// stream was opened with, so the scheduler drops that stream at the reload.
func (c *liveCluster) revokeWorker(t *testing.T, name string) {
	t.Helper()
	m := c.mark()
	serial := fileSerial(t, c.certFile("worker", name))
	streamSerial := c.workers[name].serial
	mustCLI(t, c.home, "revoke", name, "--reason", "keyCompromise", "--password-file", c.pw)
	t.Logf("(b) revoked %s, serial %s and its superseded %s", name, serial, streamSerial)
	c.waitReloaded(t, m, c.current(t))
	c.sched.waitLine(t, "worker removed", "name="+name, "serial="+streamSerial)
	revoked := c.workers[name]
	delete(c.workers, name)

	// dialing the scheduler with its certificate
	if code, _, res := c.probe(t, c.addr, c.config(name), "--role", "worker"); code != probeFailed {
		t.Errorf("probe of the scheduler as revoked %s: exit %d, want %d: %v", name, code, probeFailed, res)
	}
	c.waitLogged(t, c.sched, m["sched"], "connection refused", "certificate revoked", "serial "+serial)
	// being dialed: alice's own CRL refuses the worker's certificate
	code, _, res := c.probe(t, revoked.addr, c.config("alice"))
	if e, _ := res["error"].(string); code != probeFailed || !strings.Contains(e, "certificate revoked") {
		t.Errorf("probe of revoked %s: exit %d, want %d refusing it: %v", name, code, probeFailed, res)
	}
	// a worker that is not revoked still dials in
	if code, _, res := c.probe(t, c.addr, c.config("w1"), "--role", "worker"); code != probeOK {
		t.Errorf("probe of the scheduler as w1: exit %d: %v", code, res)
	}
	c.checkProbes(t, c.config("alice"), fileIssuer(t, c.certFile("scheduler", "sched")), name)
	c.checkStreams(t)

	// Restarted, the revoked worker cannot register again.
	revoked.proc.stop(t)
	mark := len(c.sched.out.String())
	p := startRunWorker(t, c.bin, c.addr, c.config(name), "--name", name)
	p.waitLine(t, "cannot register with the scheduler", "the peer rejected our certificate")
	c.waitLogged(t, c.sched, mark, "connection refused", "certificate revoked", "serial "+serial)
	p.stop(t)
	if n := len(linesSince(c.sched, 0, "worker registered", "name="+name)); n != 1 {
		t.Errorf("revoked %s registered %d times, want only its first registration", name, n)
	}
	c.checkStreams(t)
}

// rotateCA is step (c): begin, issue and finish, each reloaded by every
// endpoint with no connection dropped. A copy of alice's old-CA identity,
// kept as a client that is never restarted would keep it, is accepted
// until finish and refused after.
func (c *liveCluster) rotateCA(t *testing.T) {
	t.Helper()
	oldIssuer := fileIssuer(t, c.certFile("scheduler", "sched"))
	alice := c.config("alice")
	c.rotate(t, "begin", 2)
	c.checkProbes(t, alice, oldIssuer)
	c.checkStreams(t)

	oldAlice := c.frozenClient(t, "alice")
	c.rotate(t, "issue", 2)
	newIssuer := fileIssuer(t, c.certFile("scheduler", "sched"))
	if newIssuer == oldIssuer {
		t.Fatalf("after issue the scheduler is still on %q", oldIssuer)
	}
	c.checkProbes(t, alice, newIssuer)
	for n, addr := range c.addrs() {
		if code, _, res := c.probe(t, addr, oldAlice); code != probeOK {
			t.Errorf("old-CA client refused by %s during the overlap: exit %d: %v", n, code, res)
		}
	}
	c.checkStreams(t)

	m := c.mark()
	c.rotate(t, "finish", 1)
	c.checkProbes(t, alice, newIssuer)
	for n, addr := range c.addrs() {
		// The reload after finish may follow a reload left over from
		// issue (its CRL), so wait for the refusal itself.
		waitFor(t, n+" to refuse the old-CA client", func() (bool, string) {
			code, _, res := c.probe(t, addr, oldAlice)
			return code == probeFailed, c.procs()[n].out.String() + "\nprobe: " + toJSON(res)
		})
		c.waitLogged(t, c.procs()[n], m[n], "connection refused", "unknown authority")
	}
	c.checkStreams(t)
}

// rotate runs one phase of ca rotate, checks the number of roots in the
// bundles and waits for every endpoint to reload.
func (c *liveCluster) rotate(t *testing.T, phase string, roots int) {
	t.Helper()
	m := c.mark()
	mustCLI(t, c.home, "ca", "rotate", phase, "--password-file", c.pw)
	t.Logf("(c) ca rotate %s: scheduler serial %s from %q", phase,
		fileSerial(t, c.certFile("scheduler", "sched")), fileIssuer(t, c.certFile("scheduler", "sched")))
	bundle := filepath.Join(c.home, "certs", "scheduler", "sched", "ca.pem")
	if n := strings.Count(string(mustReadFile(t, bundle)), "BEGIN CERTIFICATE"); n != roots {
		t.Fatalf("after %s the bundle holds %d roots, want %d", phase, n, roots)
	}
	c.waitReloaded(t, m, c.current(t))
}

// frozenClient copies name's certificate, key and CA bundle as they are now
// and returns a configuration using the copies.
func (c *liveCluster) frozenClient(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(c.dir, "frozen-"+name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, err := daskconfig.LoadFile(c.config(name))
	if err != nil {
		t.Fatal(err)
	}
	files := cfg.TLS.Client
	copyTo(t, files.Cert, filepath.Join(dir, "cert.pem"))
	copyTo(t, files.Key, filepath.Join(dir, "key.pem"))
	copyTo(t, cfg.TLS.CAFile, filepath.Join(dir, "ca.pem"))
	cfg.TLS.Client = daskconfig.RoleFiles{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	cfg.TLS.CAFile = filepath.Join(dir, "ca.pem")
	path := filepath.Join(dir, name+".yaml")
	writeYAML(t, path, cfg)
	return path
}

// checkProbes probes every running endpoint with config and checks that it
// presents the certificate in its file, from issuer; skip names endpoints
// not to probe.
func (c *liveCluster) checkProbes(t *testing.T, config, issuer string, skip ...string) {
	t.Helper()
	for n, addr := range c.addrs() {
		if contains(skip, n) {
			continue
		}
		if ok, detail := c.probeShows(t, addr, config, fileSerial(t, c.certFile(roleOf(n), n)), issuer); !ok {
			t.Error(detail)
		}
	}
}
