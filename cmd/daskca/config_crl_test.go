package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
)

// crlKey returns daskca.crl-file of a YAML snippet, "" when absent.
func crlKey(t *testing.T, y string) string {
	t.Helper()
	var tree struct {
		Daskca struct {
			CRLFile string `yaml:"crl-file"`
		} `yaml:"daskca"`
	}
	if err := yaml.Unmarshal([]byte(y), &tree); err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	return tree.Daskca.CRLFile
}

// TestConfigCRL checks that every form daskca's transport reads names the
// home's CRL once one is published, and only then.
func TestConfigCRL(t *testing.T) {
	t.Parallel()
	home, pw := newHome(t, "CRL Config CA")
	mustCLI(t, home, "issue", "worker", "w1", "--ip", "127.0.0.1", "--password-file", pw)
	if got := crlKey(t, mustCLI(t, home, "config", "w1", "--format", "yaml")); got != "" {
		t.Fatalf("crl-file %q before any CRL was published", got)
	}
	mustCLI(t, home, "crl", "--password-file", pw)
	homeCRL := filepath.Join(home, "crl.pem")

	tests := []struct {
		name, prefix, want string
	}{
		{"home paths", "", homeCRL},
		{"path prefix", "/etc/dask/tls", "/etc/dask/tls/crl.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"config", "w1"}
			if tt.prefix != "" {
				args = append(args, "--path-prefix", tt.prefix)
			}
			if got := crlKey(t, mustCLI(t, home, append(args, "--format", "yaml")...)); got != tt.want {
				t.Errorf("yaml crl-file = %q, want %q", got, tt.want)
			}
			env := mustCLI(t, home, append(args, "--format", "env")...)
			if !strings.Contains(env, "export DASK_DASKCA__CRL_FILE='"+tt.want+"'\n") {
				t.Errorf("env lacks the CRL:\n%s", env)
			}
			var js struct {
				CRLFile string            `json:"crl_file"`
				Env     map[string]string `json:"env"`
			}
			if err := json.Unmarshal([]byte(mustCLI(t, home, append(args, "--format", "json")...)), &js); err != nil {
				t.Fatal(err)
			}
			if js.CRLFile != tt.want || js.Env["DASK_DASKCA__CRL_FILE"] != tt.want {
				t.Errorf("json crl_file = %q, env %q; want %q", js.CRLFile, js.Env["DASK_DASKCA__CRL_FILE"], tt.want)
			}
		})
	}

	// The home's own YAML loads as a working worker Security, CRL included.
	cfgFile := filepath.Join(t.TempDir(), "w1.yaml")
	if err := os.WriteFile(cfgFile, []byte(mustCLI(t, home, "config", "w1", "--format", "yaml")), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSecurity(t, cfgFile, homeCRL)

	k8s := mustCLI(t, home, "config", "w1", "--format", "k8s-secret")
	var secret struct {
		StringData map[string]string `yaml:"stringData"`
	}
	if err := yaml.Unmarshal([]byte(k8s), &secret); err != nil {
		t.Fatal(err)
	}
	if secret.StringData["crl.pem"] != string(mustReadFile(t, homeCRL)) {
		t.Errorf("k8s Secret lacks crl.pem:\n%s", k8s)
	}
}

// mustSecurity loads a worker Security from a YAML file and checks that it
// uses crl as its CRL.
func mustSecurity(t *testing.T, cfgFile, crl string) {
	t.Helper()
	cfg, err := daskconfig.LoadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Daskca.CRLFile != crl {
		t.Errorf("%s: crl-file = %q, want %q", cfgFile, cfg.Daskca.CRLFile, crl)
	}
	sec, err := transport.NewSecurity(cfg, identity.Worker, transport.SecurityOptions{})
	if err != nil {
		t.Fatalf("%s does not load: %v", cfgFile, err)
	}
	sec.Close()
}

// TestExportCRL checks that export ships a copy of the CRL and points the
// bundle's YAML and env at it.
func TestExportCRL(t *testing.T) {
	t.Parallel()
	home, pw := newHome(t, "CRL Export CA")
	for _, n := range []string{"w1", "w2"} {
		mustCLI(t, home, "issue", "worker", n, "--ip", "127.0.0.1", "--password-file", pw)
	}
	mustCLI(t, home, "revoke", "w2", "--password-file", pw)
	dir := filepath.Join(t.TempDir(), "w1")
	mustCLI(t, home, "export", "w1", "--dir", dir)
	got := mustReadFile(t, filepath.Join(dir, "crl.pem"))
	if !bytes.Equal(got, mustReadFile(t, filepath.Join(home, "crl.pem"))) {
		t.Error("exported crl.pem differs from the home's")
	}
	mustSecurity(t, filepath.Join(dir, "dask.yaml"), filepath.Join(dir, "crl.pem"))
	if env := string(mustReadFile(t, filepath.Join(dir, "dask.env"))); !strings.Contains(env, "DASK_DASKCA__CRL_FILE='"+filepath.Join(dir, "crl.pem")+"'") {
		t.Errorf("dask.env lacks the CRL:\n%s", env)
	}
}

// TestRealDaskIgnoresCRLKey runs the snippet cluster of TestRealDaskSnippets
// on a home with a published CRL: real Dask must start from the YAML (and
// the env variables) that carry the extra daskca key.
func TestRealDaskIgnoresCRLKey(t *testing.T) {
	c := newDaskCluster(t)
	mustCLI(t, c.home, "crl", "--password-file", c.pw)
	if crlKey(t, mustCLI(t, c.home, "config", "w1", "--format", "yaml")) == "" {
		t.Fatal("the worker's YAML does not name the CRL")
	}
	sched := startSnippetCluster(t, c)
	py := mustCLI(t, c.home, "config", "alice", "--format", "python", "--scheduler", c.sched)
	out, err := dasktest.RunPython(t, clientScript(py, c.sched), nil, 90*time.Second)
	if err != nil || !strings.Contains(out, "workers: ['w1', 'w2']") {
		t.Fatalf("client: %v\n%s\nscheduler log:\n%s", err, out, sched.Log())
	}
}
