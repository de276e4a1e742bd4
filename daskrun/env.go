package daskrun

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/transport/daskconfig"
)

// childEnv is Dask's environment: environ, and with a configuration file
// a private DASK_CONFIG directory in tmp holding a copy of the file alone,
// without the DASK_* variables of the keys daskca checked (they would
// override the file), so that Dask runs with what was checked.
func childEnv(environ []string, config, tmp string) ([]string, error) {
	if config == "" {
		return slices.Clone(environ), nil // the caller's slice is never appended to
	}
	b, err := os.ReadFile(config)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "dask-config")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(filepath.Join(dir, "daskca.yaml"), b, 0o600); err != nil {
		return nil, err
	}
	drop := map[string]bool{"DASK_CONFIG": true}
	for _, k := range daskconfig.ConfigKeys() {
		drop[daskconfig.EnvName(k)] = true
	}
	out := make([]string, 0, len(environ)+1)
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			out = append(out, kv)
		}
	}
	return append(out, "DASK_CONFIG="+dir), nil
}
