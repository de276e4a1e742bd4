package daskrun

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestChildEnv: with a configuration file, Dask gets a private DASK_CONFIG
// holding a copy of the file and none of the variables of the keys daskca
// checked; other variables pass. Without one, the environment is Dask's
// own.
func TestChildEnv(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "w.yaml")
	content := []byte("distributed: {comm: {require-encryption: true}}\n")
	if err := os.WriteFile(cfg, content, 0o644); err != nil {
		t.Fatal(err)
	}
	environ := []string{
		"PATH=/usr/bin",
		"DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/elsewhere/ca.pem",
		"DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=False",
		"DASK_DISTRIBUTED__WORKER__PRELOAD=[]",
		"DASK_DISTRIBUTED__NANNY__PRELOAD=[]",
		"DASK_CONFIG=/elsewhere",
		"DASK_DISTRIBUTED__WORKER__MEMORY__TARGET=0.5",
		"DASKCA_PYTHON=/usr/bin/python3",
	}
	tests := []struct {
		name    string
		config  string
		want    func(tmp string) []string
		wantErr error
	}{
		{name: "configuration file", config: cfg, want: func(tmp string) []string {
			return []string{"PATH=/usr/bin", "DASK_DISTRIBUTED__WORKER__MEMORY__TARGET=0.5", "DASKCA_PYTHON=/usr/bin/python3",
				"DASK_CONFIG=" + filepath.Join(tmp, "dask-config")}
		}},
		{name: "Dask's search path", want: func(string) []string { return environ }},
		{name: "missing file", config: filepath.Join(t.TempDir(), "nope.yaml"), wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			env, err := childEnv(environ, tt.config, tmp)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(env, tt.want(tmp)) {
				t.Errorf("environment\n%q\nwant\n%q", env, tt.want(tmp))
			}
			if tt.config == "" {
				return
			}
			p := filepath.Join(tmp, "dask-config", "daskca.yaml")
			if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, content) {
				t.Errorf("DASK_CONFIG does not hold a copy of the file: %v", err)
			}
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("the copy's mode: %v %v, want 0600", fi.Mode(), err)
			}
		})
	}
	t.Run("never appends to the caller's slice", func(t *testing.T) {
		base := make([]string, 1, 4)
		base[0] = "A=1"
		env, err := childEnv(base, "", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		_ = append(env, "B=2")
		if got := base[:2]; got[1] != "" {
			t.Errorf("the caller's slice was written: %q", got)
		}
	})
}
