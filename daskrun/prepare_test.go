package daskrun

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/daskplugin"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/testca"
	"github.com/daskca/daskca/transport"
)

// prepareFixture is a CA's certificates and configurations for Prepare,
// and an interpreter that claims distributed 2099.1.0.
type prepareFixture struct {
	dir, python string
	config      map[string]string // name → configuration file
}

func newPrepareFixture(t *testing.T) prepareFixture {
	t.Helper()
	dir := t.TempDir()
	ca := testca.New(t)
	f := prepareFixture{dir: dir, config: map[string]string{},
		python: fakePython(t, dir, "py", "echo 2099.1.0\n")}
	write := func(name string, role identity.Role, cert, key, caFile, extra string) {
		y := fmt.Sprintf("distributed:\n  comm:\n    require-encryption: true\n    default-scheme: tls\n    tls:\n"+
			"      ca-file: %s\n      %s:\n        cert: %s\n        key: %s\n%s", caFile, role, cert, key, extra)
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		f.config[name] = p
	}
	sCert, sKey, caFile := ca.WriteFiles(t, dir, identity.Scheduler, "sched")
	wCert, wKey, _ := ca.WriteFiles(t, dir, identity.Worker, "w1")
	gCert, gKey, _ := ca.WriteFiles(t, dir, identity.Worker, "gone")
	write("sched", identity.Scheduler, sCert, sKey, caFile, "")
	write("w1", identity.Worker, wCert, wKey, caFile, "")
	write("sched-as-worker", identity.Worker, sCert, sKey, caFile, "")
	write("w1-key-of-gone", identity.Worker, wCert, gKey, caFile, "")
	crl := writeCRL(t, ca, filepath.Join(dir, "crl.pem"), gCert)
	write("gone", identity.Worker, gCert, gKey, caFile, "daskca:\n  crl-file: "+crl+"\n")
	link := filepath.Join(dir, "etc", daskplugin.FileName)
	if err := os.Mkdir(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "elsewhere.py"), link); err != nil {
		t.Fatal(err)
	}
	write("plugin-link", identity.Scheduler, sCert, sKey, caFile, "  scheduler:\n    preload: ["+link+"]\n")
	return f
}

// writeCRL writes a CRL of ca revoking the certificate in certFile.
func writeCRL(t *testing.T, ca *testca.CA, path, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(24 * time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: cert.SerialNumber, RevocationTime: now.Add(-time.Minute)}},
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPrepareRefuses checks that each mistake Prepare can see before
// Python starts is a PreflightError of its check, in the order the checks
// run, and that a refused run leaves no private directory behind.
func TestPrepareRefuses(t *testing.T) {
	f := newPrepareFixture(t)
	worker := func(config string) Options {
		return Options{Role: identity.Worker, ConfigFile: f.config[config], Scheduler: "tls://127.0.0.1:8786", Python: f.python}
	}
	with := func(o Options, change func(*Options)) Options { change(&o); return o }
	tests := []struct {
		name   string
		opts   Options
		check  Check
		value  string
		target error
	}{
		{name: "missing configuration", opts: with(worker("w1"), func(o *Options) { o.ConfigFile = filepath.Join(f.dir, "nope.yaml") }),
			check: CheckConfig},
		{name: "scheduler configuration for a worker", opts: worker("sched"), check: CheckMaterial, target: transport.ErrBadMaterial},
		{name: "scheduler certificate as a worker's", opts: worker("sched-as-worker"), check: CheckMaterial, target: transport.ErrBadMaterial},
		{name: "key of another certificate", opts: worker("w1-key-of-gone"), check: CheckMaterial, target: transport.ErrBadMaterial},
		{name: "expired", opts: with(worker("w1"), func(o *Options) { o.Now = func() time.Time { return time.Now().AddDate(5, 0, 0) } }),
			check: CheckMaterial, target: transport.ErrBadMaterial},
		{name: "revoked by the configured CRL", opts: worker("gone"), check: CheckRevoked, target: transport.ErrRevoked},
		{name: "--preload for Dask", opts: with(worker("w1"), func(o *Options) { o.DaskArgs = []string{"--preload", "x"} }),
			check: CheckDaskArgs, value: "--preload"},
		{name: "plaintext scheduler", opts: with(worker("w1"), func(o *Options) { o.Scheduler = "tcp://127.0.0.1:8786" }),
			check: CheckScheduler, value: "tcp://127.0.0.1:8786", target: ErrNotTLS},
		{name: "plaintext listen", opts: Options{Role: identity.Scheduler, ConfigFile: f.config["sched"], Listen: "tcp://:0", Python: f.python},
			check: CheckListen, value: "tcp://:0", target: ErrNotTLS},
		{name: "no interpreter", opts: with(worker("w1"), func(o *Options) { o.Python = filepath.Join(f.dir, "nopython") }),
			check: CheckPython, value: filepath.Join(f.dir, "nopython")},
		{name: "plugin path is a symlink", opts: Options{Role: identity.Scheduler, ConfigFile: f.config["plugin-link"], Python: f.python},
			check: CheckPlugin, value: filepath.Join(f.dir, "etc", daskplugin.FileName), target: daskplugin.ErrSymlink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			r, err := Prepare(context.Background(), tt.opts)
			if err == nil {
				_ = r.Close()
				t.Fatal("Prepare accepted it")
			}
			var pe *PreflightError
			if !errors.As(err, &pe) || pe.Check != tt.check || tt.value != "" && pe.Value != tt.value {
				t.Fatalf("err = %v (%#v), want check %v value %q", err, pe, tt.check, tt.value)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.target)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("a refused run left %v in the temporary directory", left)
			}
		})
	}
	t.Run("a client", func(t *testing.T) {
		_, err := Prepare(context.Background(), Options{Role: identity.Client, ConfigFile: f.config["w1"], Python: f.python})
		var pe *PreflightError
		if err == nil || errors.As(err, &pe) {
			t.Errorf("err = %v, want a plain error: a client is not a Dask process daskrun starts", err)
		}
	})
}

// TestPrepare checks what Prepare decides for runs it accepts: Dask's
// module and flags (a worker's name from its certificate), the plugin's
// private copy through the preload variable or --preload-nanny, the
// environment with the configuration's private copy and without the
// variables that would override it, and that Close removes the private
// directory.
func TestPrepare(t *testing.T) {
	t.Parallel()
	f := newPrepareFixture(t)
	environ := []string{"PATH=/usr/bin:/bin", "DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/elsewhere/ca.pem", "KEEP=1"}
	tests := []struct {
		name     string
		opts     Options
		wantArgs func(tmp string) string
		wantEnv  func(tmp string) []string
	}{
		{name: "scheduler", opts: Options{Role: identity.Scheduler, ConfigFile: f.config["sched"]},
			wantArgs: func(string) string { return "-m distributed.cli.dask_scheduler --protocol tls --port 8786" },
			wantEnv: func(tmp string) []string {
				return []string{"PATH=/usr/bin:/bin", "KEEP=1", "DASK_CONFIG=" + filepath.Join(tmp, "dask-config"),
					`DASK_DISTRIBUTED__SCHEDULER__PRELOAD=["` + filepath.Join(tmp, daskplugin.FileName) + `"]`}
			}},
		{name: "worker", opts: Options{Role: identity.Worker, ConfigFile: f.config["w1"], Scheduler: "tls://127.0.0.1:8786",
			Listen: "tls://127.0.0.1:0", NThreads: 2, DaskArgs: []string{"--memory-limit", "1GB"}},
			wantArgs: func(tmp string) string {
				return "-m distributed.cli.dask_worker tls://127.0.0.1:8786 --name w1 --nthreads 2 --host 127.0.0.1 --preload-nanny " +
					filepath.Join(tmp, daskplugin.FileName) + " --memory-limit 1GB"
			},
			wantEnv: func(tmp string) []string {
				return []string{"PATH=/usr/bin:/bin", "KEEP=1", "DASK_CONFIG=" + filepath.Join(tmp, "dask-config"),
					`DASK_DISTRIBUTED__WORKER__PRELOAD=["` + filepath.Join(tmp, daskplugin.FileName) + `"]`}
			}},
		{name: "worker with a name of its own", opts: Options{Role: identity.Worker, ConfigFile: f.config["w1"],
			Scheduler: "tls://127.0.0.1:8786", Name: "other"},
			wantArgs: func(tmp string) string {
				return "-m distributed.cli.dask_worker tls://127.0.0.1:8786 --name other --preload-nanny " + filepath.Join(tmp, daskplugin.FileName)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Python, tt.opts.Environ = f.python, environ
			r, err := Prepare(context.Background(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			tmp := r.tmp
			if r.Python != f.python || r.Version != "2099.1.0" || r.Role != tt.opts.Role {
				t.Errorf("Run %s %s %s", r.Role, r.Python, r.Version)
			}
			if got := strings.Join(r.Args, " "); got != tt.wantArgs(tmp) {
				t.Errorf("args\n%s\nwant\n%s", got, tt.wantArgs(tmp))
			}
			if tt.wantEnv != nil && !slices.Equal(r.Env, tt.wantEnv(tmp)) {
				t.Errorf("env\n%q\nwant\n%q", r.Env, tt.wantEnv(tmp))
			}
			if b, err := os.ReadFile(filepath.Join(tmp, daskplugin.FileName)); err != nil || string(b) != string(daskplugin.Render()) {
				t.Errorf("the private plugin: %v", err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Close left the private directory: %v", err)
			}
		})
	}
}
