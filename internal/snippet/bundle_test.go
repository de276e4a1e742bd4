package snippet

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/transport/daskconfig"
)

func TestBundle(t *testing.T) {
	m := Material{CA: []byte("ca\n"), Cert: []byte("cert\n"), Key: []byte("key\n")}
	files, err := Bundle(identity.Worker, "w1", "/etc/dask/tls", m, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteDir(dir, files, false); err != nil {
		t.Fatal(err)
	}
	modes := map[string]os.FileMode{"ca.pem": 0o644, "tls.crt": 0o644, "tls.key": 0o600, "dask.yaml": 0o644, "dask.env": 0o644}
	for name, mode := range modes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, %v; want mode %v", name, fi.Mode(), err, mode)
		}
	}
	cfg, err := daskconfig.LoadFile(filepath.Join(dir, "dask.yaml"))
	if err != nil || cfg.TLS.Worker.Key != "/etc/dask/tls/tls.key" {
		t.Errorf("bundle yaml loads as %+v, %v", cfg.TLS, err)
	}
	if err := WriteDir(dir, files, false); !errors.Is(err, fsutil.ErrExists) {
		t.Errorf("second export without force = %v, want ErrExists", err)
	}
	if err := WriteDir(dir, files, true); err != nil {
		t.Errorf("export with force = %v", err)
	}

	var buf bytes.Buffer
	if err := WriteTarGz(&buf, "worker-w1", files, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	seen := map[string]os.FileMode{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[h.Name] = os.FileMode(h.Mode)
	}
	if seen["worker-w1/tls.key"] != 0o600 || seen["worker-w1/ca.pem"] != 0o644 || len(seen) != 6 {
		t.Errorf("tar entries = %v", seen)
	}
}

func TestBundleWithCRL(t *testing.T) {
	m := Material{CA: []byte("ca\n"), Cert: []byte("cert\n"), Key: []byte("key\n"), CRL: []byte("crl\n")}
	files, err := Bundle(identity.Worker, "w1", "/etc/dask/tls", m, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteDir(dir, files, true); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "crl.pem")); err != nil || string(b) != "crl\n" {
		t.Errorf("crl.pem = %q, %v", b, err)
	}
	cfg, err := daskconfig.LoadFile(filepath.Join(dir, "dask.yaml"))
	if err != nil || cfg.Daskca.CRLFile != "/etc/dask/tls/crl.pem" {
		t.Errorf("dask.yaml: crl-file = %q, %v", cfg.Daskca.CRLFile, err)
	}
	env, err := os.ReadFile(filepath.Join(dir, "dask.env"))
	if err != nil || !strings.Contains(string(env), "DASK_DASKCA__CRL_FILE='/etc/dask/tls/crl.pem'") {
		t.Errorf("dask.env = %q, %v", env, err)
	}
}

func TestCombinedBundle(t *testing.T) {
	m := Material{CA: []byte("ca\n"), Cert: Combined([]byte("cert"), []byte("key\n"))}
	files, err := Bundle(identity.Scheduler, "s1", "/x", m, opts)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
		if f.Name == CombinedName && (f.Mode != 0o600 || string(f.Data) != "cert\nkey\n") {
			t.Errorf("combined file = %q mode %v", f.Data, f.Mode)
		}
	}
	if len(files) != 4 {
		t.Errorf("files = %v", names)
	}
}
