package daskrun

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLoadConfig: a configuration file is the whole configuration (no
// DASK_* variable overrides it); without one, Dask's search path (here
// ~/.config/dask) and the DASK_* variables, which win.
func TestLoadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	yaml := func(path, ca string) string {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("distributed: {comm: {tls: {ca-file: "+ca+"}}}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	file := yaml(filepath.Join(dir, "run.yaml"), "/file/ca.pem")
	home := filepath.Join(dir, "home")
	yaml(filepath.Join(home, ".config", "dask", "dask.yaml"), "/home/ca.pem")
	root := "DASK_ROOT_CONFIG=" + filepath.Join(dir, "no-etc") // not this machine's /etc/dask
	envCA := "DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/env/ca.pem"
	tests := []struct {
		name       string
		file, home string
		environ    []string
		want       string
		wantErr    bool
	}{
		{name: "file alone", file: file, home: home, environ: []string{root, envCA}, want: "/file/ca.pem"},
		{name: "search path", home: home, environ: []string{root}, want: "/home/ca.pem"},
		{name: "variables win", home: home, environ: []string{root, envCA}, want: "/env/ca.pem"},
		{name: "no home", environ: []string{root}, want: ""},
		{name: "missing file", file: filepath.Join(dir, "nope.yaml"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(tt.file, tt.environ, tt.home, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if err == nil && cfg.TLS.CAFile != tt.want {
				t.Errorf("ca-file = %q, want %q", cfg.TLS.CAFile, tt.want)
			}
		})
	}
}
