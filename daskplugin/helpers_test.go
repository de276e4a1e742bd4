package daskplugin

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/internal/testkit/testca"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
)

// testInterval is the reload interval of the test clusters: short, so that
// waiting for "one interval" stays quick.
const testInterval = 500 * time.Millisecond

// env is one test's directory, visible to the runtime, holding the plugin,
// a CA and the endpoints' files.
type env struct {
	t      *testing.T
	rt     dasktest.Runtime
	dir    string
	plugin string // host path of the rendered plugin
	ca     *testca.CA
	bundle string // host path of the CA bundle
	crl    string // host path of the CRL file ("" until writeCRL)
	// probeCA is the newest CA written to the bundle; serveSerial's probe
	// certificate comes from it.
	probeCA *testca.CA
}

func newEnv(t *testing.T, rt dasktest.Runtime) *env {
	t.Helper()
	e := &env{t: t, rt: rt, dir: rt.TempDir(t), ca: testca.New(t)}
	e.plugin = filepath.Join(e.dir, FileName)
	if err := WriteFile(e.plugin); err != nil {
		t.Fatal(err)
	}
	e.bundle = filepath.Join(e.dir, "ca-bundle.pem")
	e.writeBundle(e.ca)
	return e
}

// p turns a host path into the runtime's path.
func (e *env) p(host string) string { return e.rt.Path(e.t, host) }

func (e *env) writeBundle(cas ...*testca.CA) {
	var b []byte
	for _, ca := range cas {
		b = append(b, ca.CertPEM...)
	}
	e.probeCA = cas[len(cas)-1]
	writeAtomic(e.t, e.bundle, b, 0o644)
}

// writeAtomic replaces a file the way daskca and config management do.
func writeAtomic(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// endpoint is one certificate holder: its files and its Dask config dir.
type endpoint struct {
	e          *env
	role       identity.Role
	name       string
	cert, key  string // host paths
	serial     *big.Int
	configDir  string // host path of the DASK_CONFIG directory
	extraYAML  string
	preloads   []string      // host paths of the preloads; nil means just the plugin
	certRole   identity.Role // the role its certificate says
	issuedFrom *testca.CA
}

// issue writes a certificate of certRole named name, to be used by a Dask
// process of role (they differ for the tests of a wrong certificate).
func (e *env) issue(role, certRole identity.Role, name string, opts ...testca.Option) *endpoint {
	return e.issueFrom(e.ca, role, certRole, name, opts...)
}

func (e *env) issueFrom(ca *testca.CA, role, certRole identity.Role, name string, opts ...testca.Option) *endpoint {
	e.t.Helper()
	ep := &endpoint{e: e, role: role, name: name, certRole: certRole, issuedFrom: ca,
		cert: filepath.Join(e.dir, name+".crt"), key: filepath.Join(e.dir, name+".key"),
		configDir: filepath.Join(e.dir, "config-"+name)}
	ep.renew(opts...)
	if err := os.MkdirAll(ep.configDir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	ep.writeConfig()
	return ep
}

// renew writes a fresh certificate and key for the same identity; it
// returns the new serial.
func (ep *endpoint) renew(opts ...testca.Option) *big.Int {
	t := ep.e.t
	t.Helper()
	certPEM, keyPEM := ep.issuedFrom.Issue(t, ep.certRole, ep.name, opts...)
	block, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// Key first, then certificate: between the two renames the set is
	// mismatched, which the plugin must ride out.
	writeAtomic(t, ep.key, keyPEM, 0o600)
	writeAtomic(t, ep.cert, certPEM, 0o644)
	ep.serial = c.SerialNumber
	return c.SerialNumber
}

// writeConfig writes the endpoint's dask.yaml: TLS required, its
// certificate for its role (and for the client role of get_client()), the
// plugin preloaded everywhere, and the daskca keys.
func (ep *endpoint) writeConfig() {
	e := ep.e
	var b strings.Builder
	fmt.Fprintf(&b, "distributed:\n  comm:\n    require-encryption: true\n    default-scheme: tls\n    tls:\n")
	fmt.Fprintf(&b, "      ca-file: %q\n", e.p(e.bundle))
	fmt.Fprintf(&b, "      %s:\n        cert: %q\n        key: %q\n", ep.role, e.p(ep.cert), e.p(ep.key))
	preloads := ep.preloads
	if preloads == nil {
		preloads = []string{e.plugin}
	}
	var quoted []string
	for _, p := range preloads {
		quoted = append(quoted, fmt.Sprintf("%q", e.p(p)))
	}
	for _, k := range []string{"scheduler", "worker", "nanny", "client"} {
		fmt.Fprintf(&b, "  %s:\n    preload: [%s]\n", k, strings.Join(quoted, ", "))
	}
	fmt.Fprintf(&b, "daskca:\n  reload-interval: %s\n", testInterval)
	if e.crl != "" {
		fmt.Fprintf(&b, "  crl-file: %q\n", e.p(e.crl))
	}
	b.WriteString(ep.extraYAML)
	writeAtomic(e.t, filepath.Join(ep.configDir, "dask.yaml"), []byte(b.String()), 0o644)
}

// daskEnv is the environment that points Dask at the endpoint's config.
func (ep *endpoint) daskEnv() []string {
	return []string{"DASK_CONFIG=" + ep.e.p(ep.configDir)}
}

// tlsArgs are the CLI flags for a process that does not load the plugin.
func (ep *endpoint) tlsArgs() []string {
	e := ep.e
	return []string{"--tls-ca-file", e.p(e.bundle), "--tls-cert", e.p(ep.cert), "--tls-key", e.p(ep.key)}
}

// writeCRL writes a CRL of ca with the given number, next update and
// revoked serials, and points future configs at it.
func (e *env) writeCRL(ca *testca.CA, number int64, nextUpdate time.Time, revoked ...*big.Int) {
	e.t.Helper()
	writeAtomic(e.t, e.crlPath(), crlPEM(e.t, ca, number, nextUpdate, revoked...), 0o644)
}

func (e *env) crlPath() string {
	if e.crl == "" {
		e.crl = filepath.Join(e.dir, "ca.crl")
	}
	return e.crl
}

func crlDER(t testing.TB, ca *testca.CA, number int64, nextUpdate time.Time, revoked ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                time.Now().Add(-time.Hour),
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func crlPEM(t testing.TB, ca *testca.CA, number int64, nextUpdate time.Time, revoked ...*big.Int) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crlDER(t, ca, number, nextUpdate, revoked...)})
}

// startScheduler starts `dask scheduler` with the endpoint's config.
func (ep *endpoint) startScheduler() *dasktest.Proc {
	ep.e.t.Helper()
	return ep.e.rt.StartScheduler(ep.e.t, dasktest.SchedulerOptions{Env: ep.daskEnv()})
}

// startWorker starts `dask worker` (with its nanny, which gets the plugin
// through --preload-nanny as `dask worker` ignores the nanny's preload
// from config) and waits for its registration.
func (ep *endpoint) startWorker(sched *dasktest.Proc, args ...string) *dasktest.Proc {
	ep.e.t.Helper()
	args = append(args, "--name", ep.name)
	if !strings.Contains(strings.Join(args, " "), "--no-nanny") {
		args = append(args, "--preload-nanny", ep.e.p(ep.e.plugin))
	}
	return ep.e.rt.StartWorker(ep.e.t, sched.Addr, dasktest.WorkerOptions{Args: args, Env: ep.daskEnv()})
}

// runPython runs a script as this endpoint (DASK_CONFIG set) with ADDR.
func (ep *endpoint) runPython(script, addr string, extra ...string) (string, error) {
	ep.e.t.Helper()
	env := append(ep.daskEnv(), "ADDR="+addr)
	return ep.e.rt.RunPython(ep.e.t, script, append(env, extra...), 2*time.Minute)
}

// serveSerial probes the Dask endpoint at addr with daskca's Go probe (TLS,
// Dask handshake, identity, polite close) as a client of the newest CA in
// the bundle, and returns the serial the server presented.
func (e *env) serveSerial(addr string) (*big.Int, error) {
	e.t.Helper()
	dir := e.t.TempDir()
	certPEM, keyPEM := e.probeCA.Issue(e.t, identity.Client, "probe")
	cert, key := filepath.Join(dir, "probe.crt"), filepath.Join(dir, "probe.key")
	writeAtomic(e.t, cert, certPEM, 0o644)
	writeAtomic(e.t, key, keyPEM, 0o600)
	off := false
	cfg := daskconfig.Config{TLS: daskconfig.TLSConfig{CAFile: e.bundle, Client: daskconfig.RoleFiles{Cert: cert, Key: key}},
		Daskca: daskconfig.Extra{Reload: &off}}
	sec, err := transport.NewSecurity(cfg, identity.Client, transport.SecurityOptions{})
	if err != nil {
		return nil, err
	}
	res, err := transport.Probe(context.Background(), addr, transport.ProbeOptions{Security: sec,
		Expect: []identity.Role{identity.Scheduler, identity.Worker}})
	if len(res.PeerChain) == 0 {
		return nil, fmt.Errorf("probe %s: no peer certificate (%v)", addr, err)
	}
	serial, ok := new(big.Int).SetString(res.PeerChain[0].Serial, 16)
	if !ok {
		return nil, fmt.Errorf("probe %s: serial %q", addr, res.PeerChain[0].Serial)
	}
	return serial, err
}

// waitLog waits for a line holding substr in p's log.
func waitLog(t *testing.T, p *dasktest.Proc, substr string, timeout time.Duration) string {
	t.Helper()
	return dasktest.WaitForLogLine(t, p, substr, timeout)
}

// hexSerial is a serial as the plugin logs it.
func hexSerial(s *big.Int) string { return s.Text(16) }
