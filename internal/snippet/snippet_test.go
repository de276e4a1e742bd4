package snippet

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/snippet -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

var opts = Options{Scheduler: "tls://sched01.dask.internal:8786"}

func TestGolden(t *testing.T) {
	for _, role := range identity.Roles {
		for _, combined := range []bool{false, true} {
			ep := Files(role, "n1", "/etc/dask/tls", combined).WithPlugin("/etc/dask/tls")
			base := string(role)
			if combined {
				base += "-combined"
			}
			t.Run(base, func(t *testing.T) {
				y, err := YAML(ep, opts)
				if err != nil {
					t.Fatal(err)
				}
				golden(t, base+".yaml", string(y))
				golden(t, base+".env", Env(ep, opts))
				golden(t, base+".py", Python(ep, opts))
				if role != identity.Client {
					cli, err := CLI(ep, opts)
					if err != nil {
						t.Fatal(err)
					}
					golden(t, base+".cli", cli)
				}
			})
		}
	}
	strict := Options{Scheduler: "tls://[fd00::5]:8786", MinTLS: 1.3, Ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384"}
	ep := Files(identity.Scheduler, "s1", "/etc/dask/tls", false).WithPlugin("/etc/dask/tls")
	cli, err := CLI(ep, strict)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "scheduler-tls13.cli", cli)
	golden(t, "scheduler-tls13.py", Python(ep, strict))

	// With a CRL, the YAML and env gain daskca.crl-file; the forms for
	// real Dask (which reads no CRL) stay as they were.
	w := Files(identity.Worker, "n1", "/etc/dask/tls", false)
	crl := w.WithCRL("/etc/dask/tls")
	y, err := YAML(crl, opts)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "worker-crl.yaml", string(y))
	golden(t, "worker-crl.env", Env(crl, opts))
	if Python(crl, opts) != Python(w, opts) {
		t.Error("the python form changed with a CRL")
	}
	if a, _ := CLI(crl, opts); a != mustCLIForm(t, w) {
		t.Error("the cli form changed with a CRL")
	}
}

func mustCLIForm(t *testing.T, ep Endpoint) string {
	t.Helper()
	s, err := CLI(ep, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The CRL key is daskca's own: it renders under the top-level daskca key,
// where Dask does not look, and as DASK_DASKCA__CRL_FILE.
func TestCRLKey(t *testing.T) {
	ep := Files(identity.Client, "c", "/p", false).WithCRL("/p")
	if ep.CRLFile != "/p/crl.pem" {
		t.Fatalf("CRLFile = %q", ep.CRLFile)
	}
	y, err := YAML(ep, opts)
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := yaml.Unmarshal(y, &tree); err != nil {
		t.Fatal(err)
	}
	if d, _ := tree["daskca"].(map[string]any); d["crl-file"] != "/p/crl.pem" || len(d) != 1 {
		t.Errorf("daskca key = %v\n%s", tree["daskca"], y)
	}
	if !strings.Contains(Env(ep, opts), "export DASK_DASKCA__CRL_FILE='/p/crl.pem'\n") {
		t.Errorf("env lacks the CRL:\n%s", Env(ep, opts))
	}
	noCRL, err := YAML(Files(identity.Client, "c", "/p", false), opts)
	if err != nil || strings.Contains(string(noCRL), "daskca") {
		t.Errorf("YAML without a CRL names daskca (%v):\n%s", err, noCRL)
	}
}

// The YAML we emit must load back into the very Config it came from.
func TestYAMLRoundTrip(t *testing.T) {
	for _, o := range []Options{opts, {MinTLS: 1.3, Ciphers: "ECDHE-RSA-AES128-GCM-SHA256"}} {
		for _, role := range identity.Roles {
			ep := Files(role, "n1", "/p a/th's", false).WithCRL("/p a/th's")
			y, err := YAML(ep, o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := daskconfig.ParseYAML(y)
			if err != nil {
				t.Fatalf("%s: %v\n%s", role, err, y)
			}
			if want := Config(ep, o); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: loaded %+v, want %+v", role, got, want)
			}
		}
	}
}

func TestK8sSecret(t *testing.T) {
	m := Material{CA: []byte("CA PEM\n"), Cert: []byte("CERT PEM\n"), Key: []byte("KEY PEM\n"), Plugin: []byte("PLUGIN\n")}
	out, err := K8sSecret(identity.Worker, "node_07", "/etc/dask/tls", m, opts)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "worker.k8s.yaml", out)
	if !strings.Contains(out, "add --preload-nanny /etc/dask/tls/daskca_plugin.py to its args") {
		t.Errorf("the worker's Secret does not say how the nanny gets the plugin:\n%s", out)
	}
	var secret struct {
		Kind       string
		Metadata   struct{ Name string }
		StringData map[string]string `yaml:"stringData"`
	}
	if err := yaml.Unmarshal([]byte(out), &secret); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ca.pem": "CA PEM\n", "tls.crt": "CERT PEM\n", "tls.key": "KEY PEM\n", "daskca_plugin.py": "PLUGIN\n"}
	if secret.Kind != "Secret" || secret.Metadata.Name != "dask-tls-worker-node-07--nzxwizk7ga3q" || !reflect.DeepEqual(secret.StringData, want) {
		t.Errorf("secret = %+v", secret)
	}
	// The commented pod fragment is valid YAML once uncommented, with the same env as Env.
	var frag strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "#   "); ok {
			frag.WriteString(rest + "\n")
		}
	}
	var pod struct {
		Env []daskconfig.EnvVar `yaml:"env"`
	}
	if err := yaml.Unmarshal([]byte(frag.String()), &pod); err != nil {
		t.Fatalf("pod fragment: %v\n%s", err, frag.String())
	}
	if wantEnv := Config(Files(identity.Worker, "node_07", "/etc/dask/tls", false).WithPlugin("/etc/dask/tls"), opts).Env(); !reflect.DeepEqual(pod.Env, wantEnv) {
		t.Errorf("pod env = %v, want %v", pod.Env, wantEnv)
	}

	m.CRL = []byte("CRL PEM\n")
	out, err = K8sSecret(identity.Worker, "node_07", "/etc/dask/tls", m, opts)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "worker-crl.k8s.yaml", out)
	if err := yaml.Unmarshal([]byte(out), &secret); err != nil {
		t.Fatal(err)
	}
	if secret.StringData["crl.pem"] != "CRL PEM\n" || !strings.Contains(out, "DASK_DASKCA__CRL_FILE") ||
		!strings.Contains(out, "value: /etc/dask/tls/crl.pem") {
		t.Errorf("secret with a CRL:\n%s", out)
	}
}

// TestPluginWiring: with the plugin every form loads it into each process
// of the role (a worker's nanny too, explicitly on the command line); without
// it no form names a preload.
func TestPluginWiring(t *testing.T) {
	const plugin = "/etc/dask/tls/daskca_plugin.py"
	tests := []struct {
		role identity.Role
		keys []string // preload keys set
		cli  []string // flags on the command line
	}{
		{identity.Scheduler, []string{"scheduler"}, []string{`DASK_DISTRIBUTED__SCHEDULER__PRELOAD='["` + plugin + `"]' dask scheduler`}},
		{identity.Worker, []string{"worker", "nanny"}, []string{`DASK_DISTRIBUTED__WORKER__PRELOAD='["` + plugin + `"]' dask worker`, "--preload-nanny " + plugin}},
		{identity.Client, []string{"client"}, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			bare := Files(tt.role, "n1", "/etc/dask/tls", false)
			ep := bare.WithPlugin("/etc/dask/tls")
			if ep.Plugin != plugin {
				t.Fatalf("Plugin = %q", ep.Plugin)
			}
			env, bareEnv := Env(ep, opts), Env(bare, opts)
			for _, k := range []string{"scheduler", "worker", "nanny", "client"} {
				line := "export DASK_DISTRIBUTED__" + strings.ToUpper(k) + "__PRELOAD='[\"" + plugin + "\"]'\n"
				if want := contains(tt.keys, k); strings.Contains(env, line) != want {
					t.Errorf("env sets %s preload: %v, want %v\n%s", k, !want, want, env)
				}
				if strings.Contains(bareEnv, "PRELOAD") {
					t.Errorf("env without the plugin names a preload:\n%s", bareEnv)
				}
				key := "'distributed." + k + ".preload': ['" + plugin + "']"
				if want := contains(tt.keys, k); strings.Contains(Python(ep, opts), key) != want {
					t.Errorf("python sets %s: %v, want %v\n%s", key, !want, want, Python(ep, opts))
				}
			}
			if py := Python(ep.WithCRL("/etc/dask/tls"), opts); !strings.Contains(py, "'daskca.crl-file': '/etc/dask/tls/crl.pem'") {
				t.Errorf("python with the plugin and a CRL does not give the plugin the CRL:\n%s", py)
			}
			if strings.Contains(Python(bare, opts), "preload") {
				t.Errorf("python without the plugin names a preload:\n%s", Python(bare, opts))
			}
			if tt.role == identity.Client {
				return
			}
			cli, bareCLI := mustCLIForm(t, ep), mustCLIForm(t, bare)
			if strings.Contains(cli, "--preload ") {
				t.Errorf("cli passes --preload, which dask imports outside any Dask object:\n%s", cli)
			}
			for _, f := range tt.cli {
				if !strings.Contains(cli, f) || strings.Contains(bareCLI, "PRELOAD") || strings.Contains(bareCLI, "--preload") {
					t.Errorf("cli lacks %q (or the bare one has --preload):\n%s\n%s", f, cli, bareCLI)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"defaults", Options{}, true},
		{"tls 1.3", Options{MinTLS: 1.3}, true},
		{"tls 1.1", Options{MinTLS: 1.1}, false},
		{"good ciphers", Options{Ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256"}, true},
		{"weak cipher", Options{Ciphers: "RC4-SHA"}, false},
		{"tcp scheduler", Options{Scheduler: "tcp://s:8786"}, false},
		{"no port", Options{Scheduler: "tls://s"}, false},
		{"bare scheduler", Options{Scheduler: "s:8786"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Check()
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrBadOption) {
				t.Errorf("Check() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, err := CLI(Files(identity.Client, "c", "/p", false), opts); !errors.Is(err, ErrBadOption) {
		t.Errorf("CLI for a client = %v", err)
	}
	if _, err := CLI(Files(identity.Worker, "w", "/p", false), Options{}); !errors.Is(err, ErrBadOption) {
		t.Errorf("CLI without scheduler = %v", err)
	}
}
