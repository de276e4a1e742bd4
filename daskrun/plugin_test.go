package daskrun

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/daskca/daskca/daskplugin"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// TestPluginPreloads checks how the plugin is loaded: the file the
// configuration names is written when missing or outdated (never through
// a symlink), a configuration that names none gets a private copy through
// the preload variable, and the nanny always gets --preload-nanny.
func TestPluginPreloads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	named := filepath.Join(dir, "etc", daskplugin.FileName)
	if err := os.Mkdir(filepath.Dir(named), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		role      identity.Role
		pre       daskconfig.Preloads
		setup     func(t *testing.T)
		wantFlags func(tmp string) []string
		wantEnv   func(tmp string) []string
		errKey    string
	}{
		{name: "scheduler, plugin missing on disk", role: identity.Scheduler,
			pre:       daskconfig.Preloads{Scheduler: []string{named}},
			setup:     func(t *testing.T) { _ = os.Remove(named) },
			wantFlags: func(string) []string { return nil }, wantEnv: func(string) []string { return nil }},
		{name: "scheduler, outdated plugin", role: identity.Scheduler,
			pre:       daskconfig.Preloads{Scheduler: []string{"other.module", named}},
			setup:     func(t *testing.T) { mustWritePlugin(t, named, "# old\n") },
			wantFlags: func(string) []string { return nil }, wantEnv: func(string) []string { return nil }},
		{name: "worker with the plugin configured", role: identity.Worker,
			pre:   daskconfig.Preloads{Worker: []string{named}, Nanny: []string{"m.nanny", named}},
			setup: func(t *testing.T) { _ = os.Remove(named) },
			wantFlags: func(string) []string {
				return []string{"--preload-nanny", "m.nanny", "--preload-nanny", named}
			},
			wantEnv: func(string) []string { return nil }},
		{name: "worker configured without the plugin", role: identity.Worker,
			pre: daskconfig.Preloads{Worker: []string{"m.w"}},
			wantFlags: func(tmp string) []string {
				return []string{"--preload-nanny", filepath.Join(tmp, daskplugin.FileName)}
			},
			wantEnv: func(tmp string) []string {
				return []string{`DASK_DISTRIBUTED__WORKER__PRELOAD=["m.w", "` + filepath.Join(tmp, daskplugin.FileName) + `"]`}
			}},
		{name: "scheduler configured without the plugin", role: identity.Scheduler,
			wantFlags: func(string) []string { return nil },
			wantEnv: func(tmp string) []string {
				return []string{`DASK_DISTRIBUTED__SCHEDULER__PRELOAD=["` + filepath.Join(tmp, daskplugin.FileName) + `"]`}
			}},
		{name: "the worker's preload names the plugin, the nanny's does not", role: identity.Worker,
			pre: daskconfig.Preloads{Worker: []string{named}},
			wantFlags: func(tmp string) []string {
				return []string{"--preload-nanny", filepath.Join(tmp, daskplugin.FileName)}
			},
			wantEnv: func(string) []string { return nil }},
		{name: "plugin path is a symlink", role: identity.Scheduler,
			pre: daskconfig.Preloads{Scheduler: []string{named}},
			setup: func(t *testing.T) {
				_ = os.Remove(named)
				if err := os.Symlink(filepath.Join(dir, "elsewhere.py"), named); err != nil {
					t.Fatal(err)
				}
			},
			errKey: keySchedulerPreload},
		{name: "nanny's plugin path is a symlink", role: identity.Worker,
			pre: daskconfig.Preloads{Nanny: []string{named}},
			setup: func(t *testing.T) {
				_ = os.Remove(named)
				if err := os.Symlink(filepath.Join(dir, "elsewhere.py"), named); err != nil {
					t.Fatal(err)
				}
			},
			errKey: keyNannyPreload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			tmp := t.TempDir()
			flags, env, err := pluginPreloads(daskconfig.Config{Preload: tt.pre}, tt.role, tmp)
			if tt.errKey != "" {
				wantPreflight(t, err, CheckPlugin, named, daskplugin.ErrSymlink)
				if pe, _ := err.(*PreflightError); pe == nil || pe.Key != tt.errKey {
					t.Errorf("err = %#v, want key %s", err, tt.errKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(flags, tt.wantFlags(tmp)) || !reflect.DeepEqual(env, tt.wantEnv(tmp)) {
				t.Errorf("flags %q env %q; want %q %q", flags, env, tt.wantFlags(tmp), tt.wantEnv(tmp))
			}
			mustBePlugin := func(p string) {
				if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, daskplugin.Render()) {
					t.Errorf("%s is not the plugin (%v)", p, err)
				}
			}
			if slices.Contains(tt.pre.Scheduler, named) || slices.Contains(tt.pre.Worker, named) {
				mustBePlugin(named)
			}
			if private := filepath.Join(tmp, daskplugin.FileName); strings.Contains(strings.Join(append(flags, env...), " "), private) {
				mustBePlugin(private)
			}
		})
	}
}

func mustWritePlugin(t *testing.T, path, data string) {
	t.Helper()
	_ = os.Remove(path)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
