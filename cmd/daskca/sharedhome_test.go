package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnsafeHome: a home another user could change (world-writable, even
// with the sticky bit of /tmp) is refused by init and by every command.
func TestUnsafeHome(t *testing.T) {
	t.Run("init in a 1777 directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "shared")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		mustChmod(t, dir, 0o777|os.ModeSticky)
		code, _, stderr := runCLI(t, dir, map[string]string{"DASKCA_PASSWORD": testPassword}, "init", "--name", "Shared")
		if code != 1 || !strings.Contains(stderr, "writable by group or others") {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		checkErrorLines(t, stderr)
		if _, err := os.Stat(filepath.Join(dir, "ca")); err == nil {
			t.Error("init wrote a CA into a world-writable directory")
		}
	})
	t.Run("existing home made 1777", func(t *testing.T) {
		home, _ := mustHome(t)
		mustChmod(t, home, 0o777|os.ModeSticky)
		t.Cleanup(func() { _ = os.Chmod(home, 0o700) })
		for _, args := range [][]string{{"list"}, {"export", "n1", "--dir", filepath.Join(t.TempDir(), "x")}} {
			code, _, stderr := runCLI(t, home, nil, args...)
			if code != 1 || !strings.Contains(stderr, "writable by group or others") {
				t.Errorf("%v: exit %d:\n%s", args, code, stderr)
			}
		}
	})
}

// TestLinksInHome: daskca never follows a symbolic link inside its home:
// issuing into a linked endpoint or role directory is refused before
// anything is written where the link points, and export and config
// --format k8s-secret ship nothing through a linked key.pem, nor a key.pem
// that is not the certificate's key.
func TestLinksInHome(t *testing.T) {
	t.Parallel()
	pw := map[string]string{"DASKCA_PASSWORD": testPassword}
	elsewhere := func(t *testing.T) string {
		d := filepath.Join(t.TempDir(), "victim")
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	issueCases := []struct {
		name string
		link func(home, target string) string // returns the link's path
		args []string
	}{
		{"single issue, linked endpoint directory", func(home, _ string) string { return filepath.Join(home, "certs/worker/n9") },
			[]string{"issue", "worker", "n9", "--dns", "n9.dask.internal"}},
		{"single issue --force, linked existing endpoint", func(home, _ string) string { return filepath.Join(home, "certs/worker/n1") },
			[]string{"issue", "worker", "n1", "--dns", "n1.dask.internal", "--force"}},
		{"bulk, linked endpoint directory", func(home, _ string) string { return filepath.Join(home, "certs/worker/b2") },
			[]string{"issue", "worker", "--hosts", "b[1-3].dask.internal"}},
		{"single issue, linked role directory", func(home, _ string) string { return filepath.Join(home, "certs/client") },
			[]string{"issue", "client", "alice"}},
		{"renew, linked endpoint directory", func(home, _ string) string { return filepath.Join(home, "certs/worker/n1") },
			[]string{"renew", "--all"}},
		{"renew, linked role directory", func(home, _ string) string { return filepath.Join(home, "certs/worker") },
			[]string{"renew", "--all"}},
	}
	for _, tt := range issueCases {
		t.Run(tt.name, func(t *testing.T) {
			home, _ := mustHome(t)
			target := elsewhere(t)
			link := tt.link(home, target)
			if err := os.RemoveAll(link); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := runCLI(t, home, pw, tt.args...)
			if code != 1 || !strings.Contains(stderr, "symbolic link") {
				t.Errorf("exit %d:\n%s", code, stderr)
			}
			if ents, _ := os.ReadDir(target); len(ents) != 0 {
				t.Errorf("files written through the link: %v", ents)
			}
		})
	}

	secret := "-----BEGIN PRIVATE KEY-----\nc2VjcmV0IG9mIGFub3RoZXIgdXNlcg==\n-----END PRIVATE KEY-----\n"
	shipCases := []struct {
		name   string
		mangle func(t *testing.T, home string)
	}{
		{"key.pem linked to another file", func(t *testing.T, home string) {
			other := filepath.Join(elsewhere(t), "root-secret.pem")
			mustWrite(t, other, []byte(secret), 0o600)
			key := filepath.Join(home, "certs/worker/n1/key.pem")
			if err := os.Remove(key); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, key); err != nil {
				t.Fatal(err)
			}
		}},
		{"key.pem not the certificate's key", func(t *testing.T, home string) {
			data, err := os.ReadFile(filepath.Join(home, "certs/worker/n2/key.pem"))
			if err != nil {
				t.Fatal(err)
			}
			mustWrite(t, filepath.Join(home, "certs/worker/n1/key.pem"), data, 0o600)
		}},
		{"key.pem not a key", func(t *testing.T, home string) {
			mustWrite(t, filepath.Join(home, "certs/worker/n1/key.pem"), []byte(secret), 0o600)
		}},
		{"endpoint directory linked", func(t *testing.T, home string) {
			dir := filepath.Join(home, "certs/worker/n1")
			moved := filepath.Join(elsewhere(t), "n1")
			if err := os.Rename(dir, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(moved, dir); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range shipCases {
		t.Run(tt.name, func(t *testing.T) {
			home, _ := mustHome(t)
			if code, _, stderr := runCLI(t, home, pw, "issue", "worker", "n2", "--dns", "n2.dask.internal"); code != 0 {
				t.Fatal(stderr)
			}
			tt.mangle(t, home)
			out := filepath.Join(t.TempDir(), "bundle")
			code, stdout, stderr := runCLI(t, home, nil, "export", "n1", "--dir", out)
			if code != 1 {
				t.Errorf("export: exit %d:\n%s%s", code, stdout, stderr)
			}
			checkErrorLines(t, stderr)
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("export wrote %v", ents)
			}
			code, stdout, stderr = runCLI(t, home, nil, "config", "n1", "--format", "k8s-secret")
			if code != 1 || strings.Contains(stdout, "tls.key") {
				t.Errorf("config --format k8s-secret: exit %d:\n%s%s", code, stdout, stderr)
			}
		})
	}
}

// TestForeignCAInBundle: a CA appended to an endpoint's ca.pem or to the
// home's ca-bundle.pem is found by inventory check and status, and export
// ships the CA's own bundle, not the file.
func TestForeignCAInBundle(t *testing.T) {
	t.Parallel()
	other, _ := mustHome(t)
	foreign, err := os.ReadFile(filepath.Join(other, "ca-bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("certs/worker/n1/cert.pem", func(t *testing.T) {
		home, _ := mustHome(t)
		p := filepath.Join(home, "certs/worker/n1/cert.pem")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, p, append(data, foreign...), 0o644)
		if code, out, _ := runCLI(t, home, nil, "inventory", "check"); code != 1 || !strings.Contains(out, "not a CA certificate of this home") {
			t.Errorf("inventory check: exit %d\n%s", code, out)
		}
		dir := filepath.Join(t.TempDir(), "bundle")
		if code, _, stderr := runCLI(t, home, nil, "export", "n1", "--dir", dir); code != 1 || !strings.Contains(stderr, "not a CA certificate of this home") {
			t.Errorf("export of a certificate file with a foreign CA: exit %d\n%s", code, stderr)
		}
	})
	for _, file := range []string{"certs/worker/n1/ca.pem", "ca-bundle.pem"} {
		t.Run(file, func(t *testing.T) {
			home, _ := mustHome(t)
			own, err := os.ReadFile(filepath.Join(home, "ca-bundle.pem"))
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(home, file)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			mustWrite(t, p, append(data, foreign...), 0o644)
			if code, out, _ := runCLI(t, home, nil, "inventory", "check"); code != 1 || !strings.Contains(out, "not in the CA's trust bundle") {
				t.Errorf("inventory check: exit %d\n%s", code, out)
			}
			if code, out, _ := runCLI(t, home, nil, "status"); code != 2 || !strings.Contains(out, "not in the CA's trust bundle") {
				t.Errorf("status: exit %d, want 2\n%s", code, out)
			}
			dir := filepath.Join(t.TempDir(), "bundle")
			if code, _, stderr := runCLI(t, home, nil, "export", "n1", "--dir", dir); code != 0 {
				t.Fatalf("export: %s", stderr)
			}
			shipped, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if string(shipped) != string(own) && !strings.HasPrefix(file, "ca-bundle") {
				t.Errorf("export shipped ca.pem of %d bytes, not the CA's bundle (%d bytes)", len(shipped), len(own))
			}
			if strings.Contains(string(shipped), strings.TrimSpace(string(foreign))) {
				t.Error("export shipped the foreign CA")
			}
		})
	}
}
