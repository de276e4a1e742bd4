package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/daskca/daskca/daskplugin"
	"github.com/daskca/daskca/internal/home"
	"github.com/daskca/daskca/transport/daskconfig"
)

// preloads loads a YAML snippet with the transport and returns its preload
// lists.
func preloads(t *testing.T, y string) daskconfig.Preloads {
	t.Helper()
	c, err := daskconfig.ParseYAML([]byte(y))
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	return c.Preload
}

// TestConfigPlugin checks that config wires daskca's Dask plugin into each
// role's processes, writes the home's copy of it (refreshing an outdated
// one, refusing a symlink), points at PREFIX's copy with --path-prefix, and
// leaves it all out with --no-plugin.
func TestConfigPlugin(t *testing.T) {
	t.Parallel()
	h, pw := newHome(t, "Plugin Config CA")
	for _, r := range [][]string{{"scheduler", "s1"}, {"worker", "w1"}, {"client", "c1"}} {
		mustCLI(t, h, "issue", r[0], r[1], "--ip", "127.0.0.1", "--password-file", pw)
	}
	homePlugin := filepath.Join(h, daskplugin.FileName)
	if l, _ := home.New(h); l.Plugin() != homePlugin {
		t.Fatalf("home.Layout.Plugin() = %q, want %q (daskplugin.FileName)", l.Plugin(), homePlugin)
	}
	for _, tt := range []struct {
		name string
		want func(p string) daskconfig.Preloads
	}{
		{"s1", func(p string) daskconfig.Preloads { return daskconfig.Preloads{Scheduler: []string{p}} }},
		{"w1", func(p string) daskconfig.Preloads {
			return daskconfig.Preloads{Worker: []string{p}, Nanny: []string{p}}
		}},
		{"c1", func(p string) daskconfig.Preloads { return daskconfig.Preloads{Client: []string{p}} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(homePlugin)
			if got := preloads(t, mustCLI(t, h, "config", tt.name)); !reflect.DeepEqual(got, tt.want(homePlugin)) {
				t.Errorf("home config preloads = %+v, want %+v", got, tt.want(homePlugin))
			}
			checkPluginFile(t, homePlugin)
			prefixed := mustCLI(t, h, "config", tt.name, "--path-prefix", "/etc/dask/tls")
			if got, want := preloads(t, prefixed), tt.want("/etc/dask/tls/daskca_plugin.py"); !reflect.DeepEqual(got, want) {
				t.Errorf("--path-prefix preloads = %+v, want %+v", got, want)
			}
			for _, f := range []string{"yaml", "env", "python", "json", "k8s-secret"} {
				if out := mustCLI(t, h, "config", tt.name, "--format", f, "--no-plugin"); strings.Contains(strings.ToLower(out), "preload") {
					t.Errorf("--no-plugin --format %s names a preload:\n%s", f, out)
				}
			}
		})
	}

	t.Run("outdated copy is refreshed", func(t *testing.T) {
		if err := os.WriteFile(homePlugin, []byte("# an older plugin\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mustCLI(t, h, "config", "w1", "--format", "env")
		checkPluginFile(t, homePlugin)
	})
	t.Run("symlink refused", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "elsewhere.py")
		if err := os.WriteFile(target, []byte("keep\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(homePlugin)
		if err := os.Symlink(target, homePlugin); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(homePlugin) })
		code, _, stderr := runCLI(t, h, nil, "config", "w1")
		if code == 0 || !strings.Contains(stderr, "symbolic link") {
			t.Errorf("config over a symlinked plugin: exit %d, %q", code, stderr)
		}
		if b, _ := os.ReadFile(target); string(b) != "keep\n" {
			t.Error("config wrote through the symlink")
		}
	})
	t.Run("cli sets the worker preload and passes preload-nanny", func(t *testing.T) {
		_ = os.Remove(homePlugin)
		out := mustCLI(t, h, "config", "w1", "--format", "cli", "--scheduler", "tls://127.0.0.1:8786")
		for _, want := range []string{`DASK_DISTRIBUTED__WORKER__PRELOAD='["` + homePlugin + `"]'`, "--preload-nanny " + homePlugin, "ignores distributed.nanny.preload"} {
			if !strings.Contains(out, want) {
				t.Errorf("cli lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("json names the plugin file", func(t *testing.T) {
		var out struct {
			PluginFile string `json:"plugin_file"`
		}
		if err := json.Unmarshal([]byte(mustCLI(t, h, "config", "c1", "--format", "json")), &out); err != nil || out.PluginFile != homePlugin {
			t.Errorf("plugin_file = %q, %v", out.PluginFile, err)
		}
	})
}

// checkPluginFile asserts path is this binary's plugin, mode 0644.
func checkPluginFile(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("the plugin was not written: %v", err)
	}
	if fi.Mode().Perm() != 0o644 || !fi.Mode().IsRegular() {
		t.Errorf("%s: mode %v, want a regular file 0644", path, fi.Mode())
	}
	if !bytes.Equal(mustReadFile(t, path), daskplugin.Render()) {
		t.Errorf("%s is not daskplugin.Render()", path)
	}
}

// TestExportPlugin checks that export bundles ship the plugin and point the
// bundle's YAML and env at it, loose or as a tarball, and not with
// --no-plugin.
func TestExportPlugin(t *testing.T) {
	t.Parallel()
	h, pw := newHome(t, "Plugin Export CA")
	mustCLI(t, h, "issue", "worker", "w1", "--ip", "127.0.0.1", "--password-file", pw)
	dir := filepath.Join(t.TempDir(), "w1")
	mustCLI(t, h, "export", "w1", "--dir", dir)
	plugin := filepath.Join(dir, daskplugin.FileName)
	checkPluginFile(t, plugin)
	if got := preloads(t, string(mustReadFile(t, filepath.Join(dir, "dask.yaml")))); !reflect.DeepEqual(got.Nanny, []string{plugin}) ||
		!reflect.DeepEqual(got.Worker, []string{plugin}) {
		t.Errorf("dask.yaml preloads = %+v, want %s", got, plugin)
	}
	if env := string(mustReadFile(t, filepath.Join(dir, "dask.env"))); !strings.Contains(env, `DASK_DISTRIBUTED__NANNY__PRELOAD='["`+plugin+`"]'`) {
		t.Errorf("dask.env lacks the nanny preload:\n%s", env)
	}

	tarDir := t.TempDir()
	mustCLI(t, h, "export", "w1", "--dir", tarDir, "--tar", "--path-prefix", "/etc/dask/tls")
	entries := tarEntries(t, filepath.Join(tarDir, "worker-w1.tar.gz"))
	if e, ok := entries["worker-w1/daskca_plugin.py"]; !ok || e.mode != 0o644 || !bytes.Equal(e.data, daskplugin.Render()) {
		t.Errorf("tarball plugin entry = %+v (present %v)", e.mode, ok)
	}
	if !strings.Contains(string(entries["worker-w1/dask.yaml"].data), "- /etc/dask/tls/daskca_plugin.py") {
		t.Errorf("tarball dask.yaml:\n%s", entries["worker-w1/dask.yaml"].data)
	}

	bare := filepath.Join(t.TempDir(), "bare")
	mustCLI(t, h, "export", "w1", "--dir", bare, "--no-plugin")
	if _, err := os.Lstat(filepath.Join(bare, daskplugin.FileName)); err == nil {
		t.Error("--no-plugin wrote the plugin")
	}
	if y := string(mustReadFile(t, filepath.Join(bare, "dask.yaml"))); strings.Contains(y, "preload") {
		t.Errorf("--no-plugin dask.yaml names a preload:\n%s", y)
	}
}

type tarEntry struct {
	mode int64
	data []byte
}

func tarEntries(t *testing.T, path string) map[string]tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tarEntry{}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[hdr.Name] = tarEntry{hdr.Mode, b}
	}
}
