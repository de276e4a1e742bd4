package daskplugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/daskca/daskca/transport"
)

// embeddedTable extracts the policy table from a rendered plugin.
func embeddedTable(t *testing.T, src []byte) []transport.Rule {
	t.Helper()
	m := regexp.MustCompile(`(?m)^POLICY_TABLE_JSON = r'''(.*)'''$`).FindSubmatch(src)
	if m == nil {
		t.Fatal("rendered plugin has no POLICY_TABLE_JSON line")
	}
	var rules []transport.Rule
	if err := json.Unmarshal(m[1], &rules); err != nil {
		t.Fatalf("embedded policy table: %v", err)
	}
	return rules
}

func TestRenderEmbedsThePolicyTable(t *testing.T) {
	src := Render()
	if bytes.Contains(src, []byte(policyPlaceholder)) {
		t.Fatal("rendered plugin still holds the placeholder")
	}
	if got, want := embeddedTable(t, src), transport.PolicyTable(); !reflect.DeepEqual(got, want) {
		t.Errorf("embedded table = %+v, want %+v", got, want)
	}
}

func TestWriteFile(t *testing.T) {
	t.Run("new file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), FileName)
		if err := WriteFile(p); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("mode = %04o, want 0644", fi.Mode().Perm())
		}
		b, _ := os.ReadFile(p)
		if !bytes.Equal(b, Render()) {
			t.Error("file content differs from Render()")
		}
	})
	t.Run("replaces a file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(p); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); !bytes.Equal(b, Render()) {
			t.Error("old content not replaced")
		}
	})
	t.Run("refuses a symlink", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "target")
		if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, FileName)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(p); !errors.Is(err, ErrSymlink) {
			t.Fatalf("WriteFile over a symlink: err = %v, want ErrSymlink", err)
		}
		if b, _ := os.ReadFile(target); string(b) != "keep" {
			t.Error("symlink target was written")
		}
		if fi, _ := os.Lstat(p); fi.Mode()&os.ModeSymlink == 0 {
			t.Error("symlink was replaced")
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "nope", FileName)
		if err := WriteFile(p); err == nil {
			t.Fatal("WriteFile into a missing directory succeeded")
		}
	})
	t.Run("leaves no temporary file", func(t *testing.T) {
		dir := t.TempDir()
		if err := WriteFile(filepath.Join(dir, FileName)); err != nil {
			t.Fatal(err)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			t.Errorf("directory holds %d entries, want 1", len(ents))
		}
	})
}

func TestEnsure(t *testing.T) {
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	tests := []struct {
		name      string
		setup     func(t *testing.T, p string)
		wantErr   error
		rewritten bool
	}{
		{name: "missing", setup: func(*testing.T, string) {}, rewritten: true},
		{name: "current", setup: func(t *testing.T, p string) { mustWrite(t, p, Render()) }},
		{name: "outdated", setup: func(t *testing.T, p string) { mustWrite(t, p, []byte("# old\n")) }, rewritten: true},
		{name: "symlink to nothing", setup: func(t *testing.T, p string) {
			if err := os.Symlink(filepath.Join(filepath.Dir(p), "elsewhere.py"), p); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrSymlink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), FileName)
			tt.setup(t, p)
			if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
				if err := os.Chtimes(p, old, old); err != nil {
					t.Fatal(err)
				}
			}
			err := Ensure(p)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Ensure = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(p); !bytes.Equal(b, Render()) {
				t.Error("the file is not the plugin")
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if rewritten := !fi.ModTime().Equal(old); rewritten != tt.rewritten {
				t.Errorf("rewritten = %v, want %v", rewritten, tt.rewritten)
			}
		})
	}
}

func mustWrite(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
