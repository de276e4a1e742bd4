package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpecDryRunAndHostsFile: a dry run refuses what a real run would
// (names outside the CA's name constraints); a spec's hosts_file must stay
// in the spec's directory; refusals name hosts-file lines by number and
// never echo their contents.
func TestSpecDryRunAndHostsFile(t *testing.T) {
	home, _ := mustHome(t) // --permit-dns .dask.internal --permit-ip 10.0.0.0/8
	secret := filepath.Join(t.TempDir(), "secret.txt")
	mustWrite(t, secret, []byte("TOPSECRET:hunter2\n"), 0o600)
	specDir := t.TempDir()
	mustWrite(t, filepath.Join(specDir, "hosts.txt"), []byte("ok1 ok1.dask.internal\nroot:TOPSECRET:x\n"), 0o600)
	if err := os.Symlink(secret, filepath.Join(specDir, "linked.txt")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		spec      string
		want      []string // in stdout+stderr
		forbidden string   // never in stdout+stderr
	}{
		{"outside the name constraints", "endpoints:\n  - role: worker\n    hosts: n[1-2].evil.example\n",
			[]string{"refuse", "not permitted", "2 refused"}, ""},
		{"IP outside the name constraints", "endpoints:\n  - role: worker\n    names: [a1]\n    ip_range: 192.168.0.0/24\n",
			[]string{"refuse", "not permitted"}, ""},
		{"absolute hosts_file", "endpoints:\n  - role: worker\n    hosts_file: " + secret + "\n",
			[]string{"not a path inside the spec's directory"}, "TOPSECRET"},
		{"hosts_file with ..", "endpoints:\n  - role: worker\n    hosts_file: ../" + filepath.Base(filepath.Dir(secret)) + "/secret.txt\n",
			[]string{"not a path inside the spec's directory"}, "TOPSECRET"},
		{"hosts_file linked out", "endpoints:\n  - role: worker\n    hosts_file: linked.txt\n",
			[]string{"leads out of the spec's directory"}, "TOPSECRET"},
		{"bad line reported by number", "endpoints:\n  - role: worker\n    hosts_file: hosts.txt\n",
			[]string{"hosts_file hosts.txt line 2", "1 to issue", "1 refused"}, "TOPSECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := filepath.Join(specDir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			mustWrite(t, spec, []byte(tt.spec), 0o600)
			code, out, stderr := runCLI(t, home, nil, "issue", "--spec", spec, "--dry-run")
			all := out + stderr
			if code == 0 {
				t.Errorf("exit 0, want a refusal:\n%s", all)
			}
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			if tt.forbidden != "" && strings.Contains(all, tt.forbidden) {
				t.Errorf("output echoes the file's contents:\n%s", all)
			}
		})
	}
}
