package daskconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadOptions says where LoadConfig looks. The zero value reads nothing and
// gives the zero Config; a program passes its environment explicitly:
//
//	cfg, err := daskconfig.LoadConfig(daskconfig.LoadOptions{
//		Environ: os.Environ(),
//		Home:    home, // os.UserHomeDir()
//	})
type LoadOptions struct {
	// Dirs are searched in order; later files override earlier ones. In a
	// directory every *.yaml, *.yml and *.json file is read in name order;
	// a path naming a file is read as is; missing paths are skipped. nil
	// means SearchPaths(Environ, Home), Dask's own list.
	Dirs []string
	// Files are read after Dirs, in order, each overriding what came before
	// (a --config flag). A missing file is an error.
	Files []string
	// Environ is the process environment as "NAME=value" entries. Its DASK_*
	// variables override every file, and DASK_CONFIG/DASK_ROOT_CONFIG steer
	// SearchPaths. nil means no variables: nothing here reads os.Environ.
	Environ []string
	// Home is the user's home directory, for ~/.config/dask when Dirs is
	// nil. Empty skips that directory.
	Home string
	// Logger gets a warning per unknown key under distributed.comm.tls or
	// daskca, a warning per unreadable path, and a debug line per file read.
	// nil discards them.
	Logger *slog.Logger
}

// SearchPaths returns the places Dask reads configuration files from, in the
// order Dask merges them (later wins), as dask/config.py's _get_paths does:
//
//  1. $DASK_ROOT_CONFIG, or /etc/dask
//  2. (Dask also reads <python prefix>/etc/dask here; a Go program has no
//     Python prefix and skips it)
//  3. ~/.config/dask
//  4. $DASK_CONFIG (a directory or a single file), when set
//
// and then DASK_* variables override them all. A path listed twice keeps
// only its last place. home may be empty to skip ~/.config/dask.
func SearchPaths(environ []string, home string) []string {
	env := func(name string) (string, bool) {
		var v string
		found := false
		for _, kv := range environ {
			if rest, ok := strings.CutPrefix(kv, name+"="); ok {
				v, found = rest, true
			}
		}
		return v, found
	}
	root, ok := env("DASK_ROOT_CONFIG")
	if !ok {
		root = "/etc/dask"
	}
	paths := []string{root}
	if home != "" {
		paths = append(paths, filepath.Join(home, ".config", "dask"))
	}
	if p, ok := env("DASK_CONFIG"); ok {
		paths = append(paths, p)
	}
	var out []string
	for i, p := range paths {
		if !contains(paths[i+1:], p) {
			out = append(out, p)
		}
	}
	return out
}

// LoadConfig reads the configuration with Dask's precedence: the files under
// Dirs, then Files, then the DASK_* variables of Environ, each level
// overriding the one before key by key (a null value overrides too, as in
// Dask). The result is validated; errors name the file or variable and key.
func LoadConfig(opts LoadOptions) (Config, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dirs := opts.Dirs
	if dirs == nil {
		dirs = SearchPaths(opts.Environ, opts.Home)
	}
	tree := map[string]any{}
	for _, d := range dirs {
		for _, f := range configFiles(d, log) {
			t, err := readTree(f)
			if errors.Is(err, fs.ErrPermission) {
				log.Warn("skipping unreadable dask config file", "path", f, "err", err)
				continue
			}
			if err != nil {
				return Config{}, err
			}
			log.Debug("read dask config file", "path", f)
			mergeTree(tree, t)
		}
	}
	for _, f := range opts.Files {
		t, err := readTree(f)
		if err != nil {
			return Config{}, err
		}
		log.Debug("read dask config file", "path", f)
		mergeTree(tree, t)
	}
	env, err := envTree(opts.Environ)
	if err != nil {
		return Config{}, err
	}
	mergeTree(tree, env)
	c, warnings, err := decodeTree(tree)
	if err != nil {
		return Config{}, err
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	return c, nil
}

// configFiles lists the files Dask would read for one search path.
func configFiles(path string, log *slog.Logger) []string {
	info, err := os.Stat(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			log.Warn("skipping dask config path", "path", path, "err", err)
		}
		return nil
	}
	if !info.IsDir() {
		return []string{path}
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		log.Warn("skipping unreadable dask config directory", "path", path, "err", err)
		return nil
	}
	var out []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			out = append(out, filepath.Join(path, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

func readTree(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading dask config: %w", err)
	}
	return parseYAMLTree(b, path)
}

// LoadFile reads one configuration file (YAML or JSON), without the
// environment or any other file.
func LoadFile(path string) (Config, error) {
	t, err := readTree(path)
	if err != nil {
		return Config{}, err
	}
	c, _, err := decodeTree(t)
	return c, err
}

// ParseYAML reads one YAML document as Dask's PyYAML would (YAML 1.1:
// `yes` is true, `1.2` a number, "1.2" a string) and decodes the keys of
// Config from it. Other keys are ignored; wrong types are errors naming the
// key and the fix.
func ParseYAML(b []byte) (Config, error) {
	t, err := parseYAMLTree(b, "")
	if err != nil {
		return Config{}, err
	}
	c, _, err := decodeTree(t)
	return c, err
}
