package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenCommands(t *testing.T) {
	home, _ := newHome(t, "Token CA")
	var created struct {
		Token, ID, Role, Names, Scope, Status string
		Uses                                  int
		UsesLeft                              int `json:"uses_left"`
	}
	out := mustCLI(t, home, "token", "create", "worker", "--names", "node*", "--uses", "3", "--ttl", "1h", "-o", "json")
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Token, "daskca1."+created.ID+".") || created.Scope != "role=worker names=node*" || created.Status != "usable" {
		t.Fatalf("token create -o json: %s", out)
	}
	secret := strings.Split(created.Token, ".")[2]
	text := mustCLI(t, home, "token", "create", "client", "--name", "alice")
	if strings.Count(text, "\n") != 1 || !strings.HasPrefix(text, "daskca1.") {
		t.Fatalf("token create printed %q, want the token alone", text)
	}
	list := mustCLI(t, home, "token", "list")
	if !strings.Contains(list, created.ID) || strings.Contains(list, secret) {
		t.Fatalf("token list:\n%s", list)
	}
	// Revoking by the whole token works and never echoes it.
	rev := mustCLI(t, home, "token", "revoke", created.Token)
	if !strings.Contains(rev, "revoked token "+created.ID) || strings.Contains(rev, secret) {
		t.Fatalf("token revoke printed %q", rev)
	}
	code, _, stderr := runCLI(t, home, nil, "token", "revoke", created.ID)
	if code != 1 || !strings.Contains(stderr, "revoked") {
		t.Fatalf("revoking twice: exit %d, %s", code, stderr)
	}
	var listed []struct{ ID, Status string }
	if err := json.Unmarshal([]byte(mustCLI(t, home, "token", "list", "-o", "json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 {
		t.Fatalf("token list -o json: %v", listed)
	}
	db, err := os.ReadFile(filepath.Join(home, "inventory.db"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(db), secret) || strings.Contains(string(db), strings.TrimSpace(text)) {
		t.Fatal("a token is in inventory.db")
	}
}

func TestTokenAndEnrollUsage(t *testing.T) {
	home, _ := newHome(t, "Usage CA")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"name and names", []string{"token", "create", "worker", "--name", "a", "--names", "b*"}, "not both"},
		{"bad range", []string{"token", "create", "worker", "--ip-range", "10.0.0.0"}, "CIDR"},
		{"no uses", []string{"token", "create", "worker", "--uses", "0"}, "--uses"},
		{"bad role", []string{"token", "create", "admin"}, "admin"},
		{"enroll without dir", []string{"enroll", "--server", "https://x:1", "--name", "n"}, "--dir"},
		{"enroll without token", []string{"enroll", "--server", "https://x:1", "--name", "n", "--dir", t.TempDir()}, "token is required"},
		{"watch without renew", []string{"enroll", "--watch", "--dir", t.TempDir()}, "--renew"},
		{"serve without names", []string{"serve", "--listen", "127.0.0.1:0"}, "--dns"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, home, nil, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || !strings.HasPrefix(stderr, "daskca: error: ") {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// TestEnrollRefusalIsOneLine: a refusal by the server is one error line
// (and a hint) at the client, and a bad token is never echoed.
func TestEnrollRefusalIsOneLine(t *testing.T) {
	home, pw := newHome(t, "Refusal CA")
	tok := strings.TrimSpace(mustCLI(t, home, "token", "create", "worker", "--names", "node*"))
	parts := strings.Split(tok, ".")
	parts[2] = strings.Repeat("A", len(parts[2])-1) + "E" // another secret of the same length
	mangled := strings.Join(parts, ".")
	server := startServe(t, home, pw)
	tests := []struct {
		name, token, node, want string
	}{
		{"outside the pattern", tok, "sched01", "name sched01 does not match node*"},
		{"wrong secret", mangled, "node01", "invalid token"},
		{"another CA's root", tok[:len(tok)-4] + "0000", "node01", "does not end in the CA root the token names"},
		{"not a token", "daskca1.secret-ish-words", "node01", "not a daskca enrolment token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, "", nil, "enroll", "--server", server, "--token", tc.token, "--name", tc.node, "--dir", t.TempDir())
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 1 || out != "" || !strings.HasPrefix(lines[0], "daskca: error: ") || !strings.Contains(lines[0], tc.want) || len(lines) > 2 {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
			}
			if strings.Contains(stderr, strings.Split(tok, ".")[2]) || strings.Contains(stderr, "secret-ish") {
				t.Fatal("the token is echoed")
			}
		})
	}
}

// TestTokenCreateBesideServe: serve lets the inventory go when idle, so
// tokens made while it runs are usable at once, and the CLI can write the
// inventory again right after an enrolment.
func TestTokenCreateBesideServe(t *testing.T) {
	t.Parallel()
	home, pw := newHome(t, "Beside CA")
	server := startServe(t, home, pw)
	for i, name := range []string{"node01", "node02"} {
		tok := strings.TrimSpace(mustCLI(t, home, "token", "create", "worker", "--name", name))
		out := mustCLI(t, "", "enroll", "--server", server, "--token", tok, "--name", name, "--dir", filepath.Join(t.TempDir(), name))
		if !strings.HasPrefix(out, "enrolled worker/"+name+" ") {
			t.Fatalf("enrolment %d: %q", i+1, out)
		}
	}
	if list := mustCLI(t, home, "list"); !strings.Contains(list, "node01") || !strings.Contains(list, "node02") {
		t.Fatalf("list:\n%s", list)
	}
}

// TestConfigOfEnrolled: config and export of an enrolled certificate name
// where its files are instead of rendering paths that do not exist.
func TestConfigOfEnrolled(t *testing.T) {
	home, pw := newHome(t, "Config CA")
	tok := strings.TrimSpace(mustCLI(t, home, "token", "create", "worker", "--name", "node01"))
	server := startServe(t, home, pw)
	mustCLI(t, "", "enroll", "--server", server, "--token", tok, "--name", "node01", "--dir", t.TempDir())
	for _, args := range [][]string{{"config", "node01"}, {"export", "node01", "--dir", filepath.Join(t.TempDir(), "x")}} {
		code, out, stderr := runCLI(t, home, nil, args...)
		if code != 1 || out != "" || !strings.Contains(stderr, "was enrolled") || !strings.Contains(stderr, "hint: ") {
			t.Fatalf("%v: exit %d, %q, %q", args, code, out, stderr)
		}
	}
}
