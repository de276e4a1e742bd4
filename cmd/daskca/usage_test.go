package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// insecureHome makes a home with a password-less CA and one worker, w1.
func insecureHome(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "home")
	mustCLI(t, dir, "init", "--name", "Usage CA", "--insecure-no-password")
	mustCLI(t, dir, "issue", "worker", "w1")
	return dir
}

// TestOutputPaths: commands that write a file refuse a path whose
// directory is missing or is a file, with one line naming it, before doing
// anything; export --dir naming a file is told the real fix, not --force.
func TestOutputPaths(t *testing.T) {
	h := insecureHome(t)
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(tmp, "pw")
	if err := os.WriteFile(pw, []byte("export-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "x", "y", "z")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"crl --out missing parent", []string{"crl", "--out", missing}, "directory " + filepath.Join(tmp, "x", "y") + " does not exist"},
		{"crl --out under a file", []string{"crl", "--out", filepath.Join(file, "crl.pem")}, file + " is not a directory"},
		{"crl --out a directory", []string{"crl", "--out", tmp}, "is a directory"},
		{"status --out missing parent", []string{"status", "-o", "prom", "--out", missing}, "does not exist"},
		{"backup missing parent", []string{"backup", missing}, "does not exist"},
		{"export-root-key missing parent", []string{"ca", "export-root-key", "--out", missing, "--password-file", pw}, "does not exist"},
		{"export --dir a file", []string{"export", "w1", "--dir", file}, "is a file, not a directory"},
		{"export --dir a file --tar", []string{"export", "w1", "--dir", file, "--tar"}, "is a file, not a directory"},
		{"export --dir under a file", []string{"export", "w1", "--dir", filepath.Join(file, "sub", "dir")}, file + " is a file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, h, nil, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "--force") {
				t.Errorf("exit %d, stderr %q; want exit %d and %q, no --force", code, stderr, exitUsage, tt.want)
			}
			if _, err := os.Stat(filepath.Join(tmp, "x")); err == nil {
				t.Errorf("%s created directories", tt.name)
			}
		})
	}
	// Nothing was published by the refused crl runs.
	if _, err := os.Stat(filepath.Join(h, "crl.pem")); err == nil {
		t.Error("a refused crl --out still published crl.pem")
	}
	// export --dir still creates a missing directory, as the tutorial relies on.
	mustCLI(t, h, "export", "w1", "--dir", filepath.Join(tmp, "out", "w1"))
}

// TestCRLTakesOut: crl writes FILE only with --out; the top-level help says
// so, and a FILE argument is refused with that fix.
func TestCRLTakesOut(t *testing.T) {
	h := insecureHome(t)
	help := mustCLI(t, h, "--help")
	var line string
	for _, l := range strings.Split(help, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "crl ") {
			line = l
		}
	}
	if !strings.Contains(line, "--out FILE") {
		t.Errorf("help line for crl = %q, want it to name --out FILE", line)
	}
	out := filepath.Join(t.TempDir(), "dask.crl")
	code, _, stderr := runCLI(t, h, nil, "crl", out)
	if code != exitUsage || !strings.Contains(stderr, "pass it as --out "+out) {
		t.Errorf("crl FILE: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, h, nil, "ca", "export-root-key", out)
	if code != exitUsage || !strings.Contains(stderr, "pass it as --out "+out) {
		t.Errorf("ca export-root-key FILE: exit %d, stderr %q", code, stderr)
	}
	// status takes no NAME either, but its --out is not what a lone argument means.
	code, _, stderr = runCLI(t, h, nil, "status", "w1")
	if code != exitUsage || strings.Contains(stderr, "--out") {
		t.Errorf("status w1: exit %d, stderr %q", code, stderr)
	}
	mustCLI(t, h, "crl", "--out", out)
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}

// TestEmptyHosts: an empty --hosts is an empty host list, not a missing NAME.
func TestEmptyHosts(t *testing.T) {
	h := insecureHome(t)
	for _, hosts := range []string{"", " ", ","} {
		t.Run(hosts, func(t *testing.T) {
			code, _, stderr := runCLI(t, h, nil, "issue", "worker", "--hosts", hosts)
			if code != exitUsage || !strings.Contains(stderr, "--hosts") || !strings.Contains(stderr, "empty") || strings.Contains(stderr, "argument") {
				t.Errorf("exit %d, stderr %q", code, stderr)
			}
		})
	}
	// The same for any empty flag that changes which arguments are expected.
	code, _, stderr := runCLI(t, h, nil, "issue", "--spec", "")
	if code != exitUsage || !strings.Contains(stderr, "--spec: empty value") {
		t.Errorf("issue --spec '': exit %d, stderr %q", code, stderr)
	}
}

// TestExportRootKeyNoPassword: a CA stored without a password needs one
// for the exported key, and says how to give it.
func TestExportRootKeyNoPassword(t *testing.T) {
	h := insecureHome(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "root.key")
	code, _, stderr := runCLI(t, h, nil, "ca", "export-root-key", "--out", out)
	if code != exitError || !strings.Contains(stderr, "without a password") || !strings.Contains(stderr, "hint: pass --password-file FILE or set DASKCA_PASSWORD") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	mustCLI(t, h, "ca", "export-root-key", "--out", out, "--password-file", writePW(t, tmp, "a long password"))
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), "ENCRYPTED PRIVATE KEY") {
		t.Errorf("exported key: %v\n%s", err, b)
	}
}

func writePW(t *testing.T, dir, pw string) string {
	t.Helper()
	p := filepath.Join(dir, "pw")
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLongInputClipped: an error about a 5,000-character argument quotes a
// short part of it, not all of it.
func TestLongInputClipped(t *testing.T) {
	h := insecureHome(t)
	long := strings.Repeat("x", 5000)
	for i, args := range [][]string{
		{"init", "--home", filepath.Join(t.TempDir(), "h"), "--name", "x", "--insecure-no-password", "--permit-dns", "." + long},
		{"init", "--home", filepath.Join(t.TempDir(), "h"), "--name", "x", "--insecure-no-password", "--permit-ip", long},
		{"init", "--home", filepath.Join(t.TempDir(), "h"), "--name", "x", "--insecure-no-password", "--trust-domain", long},
		{"issue", "worker", long},
		{"issue", "worker", "--hosts", long},
		{"show", long},
		{"show", "worker/" + long},
		{"revoke", long},
		{"config", long},
		{"export", long, "--dir", t.TempDir()},
	} {
		t.Run(fmt.Sprintf("%d %s", i, args[0]), func(t *testing.T) {
			code, _, stderr := runCLI(t, h, nil, args...)
			if code == 0 || len(stderr) > 400 || !strings.HasPrefix(stderr, "daskca: error: ") {
				t.Errorf("exit %d, %d bytes of stderr: %.300q", code, len(stderr), stderr)
			}
		})
	}
}

// TestBulkRefusalHint: --force is suggested only when it would help.
func TestBulkRefusalHint(t *testing.T) {
	h := insecureHome(t) // w1 has no DNS name
	for _, tt := range []struct {
		hosts string
		force bool
	}{
		{"bad_name,w2", false},
		{strings.Repeat("y", 65), false},
		{"w1.example.org", true}, // w1 exists with other DNS names
	} {
		t.Run(fmt.Sprintf("%.20s", tt.hosts), func(t *testing.T) {
			code, _, stderr := runCLI(t, h, nil, "issue", "worker", "--hosts", tt.hosts)
			if code == 0 || strings.Contains(stderr, "hint: see every refusal with --dry-run; pass --force") != tt.force {
				t.Errorf("exit %d, stderr %q; want --force in the hint: %v", code, stderr, tt.force)
			}
		})
	}
}
