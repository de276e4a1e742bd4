package daskplugin

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/transport"
)

// FileName is the name the plugin is written under. Dask's preload accepts
// a path ending in .py and imports the file as a module.
const FileName = "daskca_plugin.py"

// Mode is the permission WriteFile gives the plugin: it holds no secret and
// every Dask process of the endpoint must be able to read it.
const Mode fs.FileMode = 0o644

// policyPlaceholder is the text in the embedded source that Render replaces
// with the policy table as JSON. The plugin refuses to load while the
// placeholder is still there.
const policyPlaceholder = "@DASKCA_POLICY_TABLE@"

// ErrSymlink is returned by WriteFile when the destination is a symbolic link.
var ErrSymlink = errors.New("is a symbolic link")

//go:embed daskca_plugin.py
var source []byte

// Render returns the plugin's Python source with the strict role policy of
// transport.PolicyTable embedded as JSON, so that the Go transport and the
// plugin enforce one table.
func Render() []byte {
	table, err := json.Marshal(transport.PolicyTable())
	if err != nil {
		panic(fmt.Sprintf("daskplugin: encoding the policy table: %v", err)) // static data: cannot happen
	}
	// The JSON goes inside a Python r'''...''' literal; role names and
	// operations never hold quotes or backslashes, check it anyway.
	if bytes.Contains(table, []byte("'''")) || bytes.ContainsRune(table, '\\') {
		panic("daskplugin: the policy table cannot be embedded in a Python raw string")
	}
	if bytes.Count(source, []byte(policyPlaceholder)) != 1 {
		panic("daskplugin: the plugin source must hold the policy placeholder exactly once")
	}
	return bytes.Replace(source, []byte(policyPlaceholder), table, 1)
}

// WriteFile writes Render() to path atomically (a temporary file in the same
// directory, synced, then renamed over path) with mode 0644. It refuses a
// path that is a symbolic link and a parent directory that does not exist.
func WriteFile(path string) error {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("writing the Dask plugin: %s %w; remove it or choose another path", path, ErrSymlink)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("writing the Dask plugin: %s is not a regular file", path)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("writing the Dask plugin: %w", err)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("writing the Dask plugin: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("writing the Dask plugin: %s is not a directory", dir)
	}
	if err := fsutil.WriteFile(path, Render(), Mode); err != nil {
		return fmt.Errorf("writing the Dask plugin: %w", err)
	}
	return nil
}

// Ensure writes the plugin to path, as WriteFile does, unless the file
// there already is Render()'s, which it leaves as it is (so that Dask
// processes reading it are not raced and its time stays): what daskca
// config and daskca run do with the plugin a configuration names.
func Ensure(path string) error {
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, Render()) {
		return nil
	}
	return WriteFile(path)
}
