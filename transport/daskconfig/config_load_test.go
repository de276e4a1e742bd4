package daskconfig

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFile writes data to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustMkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// caFileYAML sets distributed.comm.tls.ca-file to v.
func caFileYAML(v string) []byte {
	return []byte("distributed:\n  comm:\n    tls:\n      ca-file: " + v + "\n")
}

// TestLoadConfigPrecedence layers one key through every level Dask reads and
// checks that each level overrides the ones before it.
func TestLoadConfigPrecedence(t *testing.T) {
	root := t.TempDir()
	etc := mustMkdir(t, root, "etc")
	home := mustMkdir(t, root, "home")
	userDir := mustMkdir(t, home, ".config", "dask")
	daskConfig := mustMkdir(t, root, "dask-config")
	writeFile(t, etc, "a.yaml", caFileYAML("/etc-a"))
	writeFile(t, etc, "b.yml", caFileYAML("/etc-b")) // later name wins within a directory
	writeFile(t, etc, "c.txt", caFileYAML("/ignored"))
	writeFile(t, userDir, "tls.yaml", caFileYAML("/home"))
	writeFile(t, daskConfig, "tls.json", []byte(`{"distributed": {"comm": {"tls": {"ca_file": "/dask-config"}}}}`))
	flagFile := writeFile(t, root, "flag.yaml", caFileYAML("/flag"))
	env := []string{"DASK_ROOT_CONFIG=" + etc, "DASK_CONFIG=" + daskConfig, "DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/env"}

	tests := []struct {
		name string
		opts LoadOptions
		want string
	}{
		{"root config dir", LoadOptions{Environ: env[:1], Home: t.TempDir()}, "/etc-b"},
		{"home over root", LoadOptions{Environ: env[:1], Home: home}, "/home"},
		{"DASK_CONFIG over home", LoadOptions{Environ: env[:2], Home: home}, "/dask-config"},
		{"flag file over DASK_CONFIG", LoadOptions{Environ: env[:2], Home: home, Files: []string{flagFile}}, "/flag"},
		{"environment over all", LoadOptions{Environ: env, Home: home, Files: []string{flagFile}}, "/env"},
		{"explicit dirs", LoadOptions{Dirs: []string{userDir, etc}}, "/etc-b"},
		{"DASK_CONFIG naming a file", LoadOptions{Environ: []string{"DASK_ROOT_CONFIG=" + etc, "DASK_CONFIG=" + flagFile}}, "/flag"},
		{"nothing", LoadOptions{Dirs: []string{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(tt.opts)
			if err != nil || c.TLS.CAFile != tt.want {
				t.Fatalf("ca-file = %q, %v; want %q", c.TLS.CAFile, err, tt.want)
			}
		})
	}
}

// TestLoadConfigMerges: levels merge key by key, and a null overrides.
func TestLoadConfigMerges(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "1.yaml", []byte("distributed: {comm: {tls: {ca-file: /ca, min-version: 1.3, worker: {cert: /w}}}}"))
	writeFile(t, dir, "2.yaml", []byte("distributed: {comm: {tls: {min-version: null, worker: {key: /k}}}}"))
	c, err := LoadConfig(LoadOptions{Dirs: []string{dir}, Environ: []string{"DASK_DISTRIBUTED__COMM__TLS__WORKER__CERT=/w2"}})
	want := TLSConfig{CAFile: "/ca", Worker: RoleFiles{Cert: "/w2", Key: "/k"}}
	if err != nil || !reflect.DeepEqual(c.TLS, want) {
		t.Fatalf("TLS = %+v, %v; want %+v", c.TLS, err, want)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", []byte("distributed: {comm: {tls: {max-version: '1.3'}}}"))
	_, err := LoadConfig(LoadOptions{Dirs: []string{dir}})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Source != bad || ce.Key != keyMaxVersion {
		t.Errorf("bad file: err = %v, want a ConfigError naming %s and %s", err, bad, keyMaxVersion)
	}
	_, err = LoadConfig(LoadOptions{Files: []string{filepath.Join(dir, "missing.yaml")}})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing --config file: err = %v, want fs.ErrNotExist", err)
	}
	if _, err := LoadFile(bad); !errors.Is(err, ErrBadConfig) {
		t.Errorf("LoadFile: err = %v, want ErrBadConfig", err)
	}
}

// TestLoadConfigWarnsUnknownKeys: a misspelt key under distributed.comm.tls
// or daskca is logged, not fatal; other Dask keys are not mentioned.
func TestLoadConfigWarnsUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "x.yaml", []byte(`
distributed:
  scheduler: {work-stealing: true}
  comm:
    tls: {cafile: /typo, worker: {certificate: /w}}
daskca: {reload-intervall: 3s}
`))
	var buf bytes.Buffer
	c, err := LoadConfig(LoadOptions{Dirs: []string{dir}, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil || c.TLS.CAFile != "" {
		t.Fatalf("LoadConfig = %+v, %v", c, err)
	}
	for _, key := range []string{"distributed.comm.tls.cafile", "distributed.comm.tls.worker.certificate", "daskca.reload-intervall"} {
		if !strings.Contains(buf.String(), "unknown key "+key) {
			t.Errorf("no warning for %s in:\n%s", key, buf.String())
		}
	}
	if strings.Contains(buf.String(), "work-stealing") {
		t.Errorf("warned about a Dask key we do not read:\n%s", buf.String())
	}
}

func TestSearchPaths(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		home    string
		want    []string
	}{
		{"defaults", nil, "/home/u", []string{"/etc/dask", "/home/u/.config/dask"}},
		{"no home", nil, "", []string{"/etc/dask"}},
		{"both variables", []string{"DASK_ROOT_CONFIG=/r", "DASK_CONFIG=/c"}, "/h", []string{"/r", "/h/.config/dask", "/c"}},
		{"duplicate keeps the last place", []string{"DASK_CONFIG=/etc/dask"}, "/h", []string{"/h/.config/dask", "/etc/dask"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SearchPaths(tt.environ, tt.home); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("SearchPaths = %v, want %v", got, tt.want)
			}
		})
	}
}
