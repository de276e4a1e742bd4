package snippet

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/daskca/daskca/daskplugin"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/fsutil"
)

// File is one file of an export bundle.
type File struct {
	Name string // base name, e.g. tls.key
	Mode fs.FileMode
	Data []byte
}

// Combined joins a certificate chain and its key into the one PEM file Dask
// accepts as a certificate with the key appended.
func Combined(cert, key []byte) []byte {
	out := append([]byte{}, cert...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, key...)
}

// Bundle is everything one host needs to run an endpoint: its TLS files
// (and crl.pem when m has a CRL), daskca_plugin.py when m has the plugin, and the YAML and env snippets that point Dask
// and daskca's transport at them under prefix.
func Bundle(role identity.Role, name, prefix string, m Material, o Options) ([]File, error) {
	ep := m.endpoint(role, name, prefix)
	y, err := YAML(ep, o)
	if err != nil {
		return nil, err
	}
	files := []File{{CAName, 0o644, m.CA}}
	if m.Key == nil {
		files = append(files, File{CombinedName, 0o600, m.Cert})
	} else {
		files = append(files, File{CertName, 0o644, m.Cert}, File{KeyName, 0o600, m.Key})
	}
	if m.CRL != nil {
		files = append(files, File{CRLName, 0o644, m.CRL})
	}
	if m.Plugin != nil {
		files = append(files, File{PluginName, daskplugin.Mode, m.Plugin})
	}
	return append(files,
		File{"dask.yaml", 0o644, y},
		File{"dask.env", 0o644, []byte(Env(ep, o))},
	), nil
}

// WriteDir writes the bundle's files into dir (created 0700) atomically,
// refusing to replace existing files unless force is set.
func WriteDir(dir string, files []File, force bool) error {
	if !force {
		for _, f := range files {
			p := filepath.Join(dir, f.Name)
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s: %w", p, fsutil.ErrExists)
			}
		}
	}
	for _, f := range files {
		if err := fsutil.WriteFile(filepath.Join(dir, f.Name), f.Data, f.Mode); err != nil {
			return err
		}
	}
	return nil
}

// WriteTarGz writes the bundle as a gzipped tar whose entries sit under top/
// and keep their modes, so that unpacking it keeps keys at 0600.
func WriteTarGz(w io.Writer, top string, files []File, mtime time.Time) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	hdr := &tar.Header{Typeflag: tar.TypeDir, Name: top + "/", Mode: 0o700, ModTime: mtime}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: top + "/" + f.Name, Mode: int64(f.Mode), Size: int64(len(f.Data)), ModTime: mtime}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
