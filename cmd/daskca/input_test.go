package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/daskca/daskca/internal/testkit/testtier"
)

// badCase is one malformed invocation: it must fail with one error line
// (and at most a hint), exit 1 or 2, and change nothing.
type badCase struct {
	name string
	args []string
	code int // 0: 1 or 2
}

const megabyte = 1 << 20

// badNames are values given where a certificate name, role/name or serial
// is expected.
var badNames = map[string]string{
	"empty":             "",
	"huge":              strings.Repeat("n", megabyte),
	"dot-dot slash":     "../n1",
	"deep traversal":    "n1/../../../etc/passwd",
	"dot":               ".",
	"dot-dot":           "..",
	"NUL byte":          "n1\x00x",
	"cyrillic i":        "n\u04561",
	"fullwidth":         "\uff4e1",
	"trailing space":    "n1 ",
	"newline hint":      "n1\nhint: run rm -rf /",
	"dash":              "-",
	"role slash only":   "worker/",
	"leading slash":     "/n1",
	"role traversal":    "worker/../n1",
	"unknown serial":    strings.Repeat("f", 65),
	"control character": "n1\x1b[31m",
	"invalid UTF-8":     "n1\xff\xfe",
}

// badDurations are malformed values of the duration flags.
var badDurations = map[string]string{
	"negative": "-1d", "zero": "0", "zero days": "0d", "negative minutes": "-5m",
	"overflow": "99999999999999999y", "float overflow": "1e400h", "word": "abc", "empty": "",
	"space": "5 d", "NUL": "1d\x00", "trailing junk": "10d5",
}

// inputFiles are files of hostile content, outside the home.
type inputFiles struct {
	dir, garbagePEM, random, empty, nul, hugeDup, hugeLine, badYAML, shortPW, emptyPW, foreignDB, truncatedDB, existing, pw string
}

func mustInputFiles(t *testing.T, home, pw string) inputFiles {
	t.Helper()
	dir := t.TempDir()
	f := inputFiles{dir: dir, pw: pw}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rnd := make([]byte, 64<<10)
	_, _ = rand.Read(rnd)
	f.garbagePEM = write("garbage.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAAnotbase64!!\n-----END CERTIFICATE-----\n"))
	f.random = write("random.bin", rnd)
	f.empty = write("empty", nil)
	f.nul = write("nul.txt", []byte("n1.dask.internal\x00\nn2.dask.internal\n"))
	// The 10 MB inputs are written for the full suite only: -short skips
	// their cases, and every case reads this directory twice to check that
	// nothing changed.
	f.hugeDup, f.hugeLine = filepath.Join(dir, "hosts-dup"), filepath.Join(dir, "hosts-line")
	if !testing.Short() {
		write("hosts-dup", bytes.Repeat([]byte("dup.dask.internal\n"), 10*megabyte/18))
		write("hosts-line", bytes.Repeat([]byte("x"), 10*megabyte))
	}
	f.badYAML = write("bad.yaml", []byte("defaults: {validity: [\nendpoints: :::\n"))
	f.shortPW = write("short.pw", []byte("short\n"))
	f.emptyPW = write("empty.pw", []byte("\nsecond line\n"))
	f.existing = write("existing.db", []byte("keep me"))
	backup := filepath.Join(t.TempDir(), "ours.db")
	if code, _, stderr := runCLI(t, home, nil, "backup", backup); code != 0 {
		t.Fatalf("backup: %s", stderr)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	f.truncatedDB = write("truncated.db", data[:len(data)/2])
	other, otherPW := mustHome(t)
	f.foreignDB = filepath.Join(dir, "foreign.db")
	if code, _, stderr := runCLI(t, other, map[string]string{"DASKCA_PASSWORD": ""}, "backup", f.foreignDB, "--home", other); code != 0 || otherPW == "" {
		t.Fatalf("backup of another home: %s", stderr)
	}
	return f
}

// badCases is the table of TestMalformedInput.
func badCases(f inputFiles, freshHome string) []badCase {
	pw := []string{"--password-file", f.pw}
	var cs []badCase
	add := func(code int, name string, args ...string) { cs = append(cs, badCase{name, args, code}) }
	for n, v := range badNames {
		add(0, "issue name "+n, append([]string{"issue", "worker", v}, pw...)...)
		add(0, "show "+n, "show", v)
		add(0, "config "+n, "config", v)
		add(0, "export "+n, "export", v, "--dir", filepath.Join(f.dir, "out"))
		add(0, "revoke "+n, append([]string{"revoke", v}, pw...)...)
		add(0, "renew "+n, append([]string{"renew", v}, pw...)...)
		add(0, "issue role "+n, append([]string{"issue", v, "n2"}, pw...)...)
	}
	for n, v := range badDurations {
		add(2, "issue --validity "+n, append([]string{"issue", "worker", "n2", "--validity", v}, pw...)...)
		add(2, "renew --validity "+n, append([]string{"renew", "--all", "--validity", v}, pw...)...)
		add(2, "renew --expiring-within "+n, append([]string{"renew", "--expiring-within", v}, pw...)...)
		add(2, "list --expiring-within "+n, "list", "--expiring-within", v)
		add(2, "status --within "+n, "status", "--within", v)
		add(2, "crl --next-update "+n, append([]string{"crl", "--next-update", v}, pw...)...)
		add(2, "init --validity "+n, "init", "--home", freshHome, "--name", "X", "--validity", v, "--password-file", f.pw)
	}
	for _, v := range []string{"", "10.0.0.0/24", "10.0.0.1:8786", "[::1]:80", "999.0.0.1", "10.0.0.1\x00", "\uff11\uff10.0.0.1",
		"0x0a.0.0.1", "010.0.0.1", "10.0.0", strings.Repeat("1", megabyte), "10.0.0.1/32"} {
		add(0, fmt.Sprintf("--ip %.20q", v), append([]string{"issue", "worker", "n2", "--ip", v}, pw...)...)
	}
	for _, v := range []string{"", "n2.dask.internal:8786", "n2..dask.internal", "-n2.dask.internal", "n\u04562.dask.internal",
		"n2.d\u0430sk.internal", strings.Repeat("a", 64) + ".dask.internal", strings.Repeat("a.", 130) + "dask.internal",
		"n2 .dask.internal", "n2.dask.internal\x00", "10.0.0.1", "http://n2.dask.internal", "n2.example.com",
		strings.Repeat("d", megabyte), "n2.dask.internal/x", "*.*.dask.internal"} {
		add(0, fmt.Sprintf("--dns %.20q", v), append([]string{"issue", "worker", "n2", "--dns", v}, pw...)...)
	}
	for _, v := range []string{"n[1-3", "n[3-1].dask.internal", "n[001-003].dask.internal:8786", "n[1-2].dask.internal,n1.dask.internal",
		"n[1-100000000].dask.internal", ",,,", "n[a-z].dask.internal", "../n[1-2]", "n[1-2].dask.internal\x00",
		strings.Repeat("h", megabyte), "n[1-2].example.com", "n[1-2]/x.dask.internal"} {
		add(0, fmt.Sprintf("--hosts %.20q", v), append([]string{"issue", "worker", "--hosts", v}, pw...)...)
	}
	for _, v := range []string{"10.0.0.0/33", "10.0.0.1", "10.0.0.0/31", "fe80::/64", "", "10.0.0.0/8/8"} {
		add(0, "--ip-range "+v, append([]string{"issue", "worker", "--hosts", "r[1-3].dask.internal", "--ip-range", v}, pw...)...)
	}
	for n, p := range map[string]string{"10 MB of duplicates": f.hugeDup, "10 MB line": f.hugeLine, "NUL bytes": f.nul,
		"PEM garbage": f.garbagePEM, "random bytes": f.random, "missing": filepath.Join(f.dir, "nope"), "directory": f.dir} {
		add(0, "--hosts-file "+n, append([]string{"issue", "worker", "--hosts-file", p}, pw...)...)
		add(0, "--spec "+n, append([]string{"issue", "--spec", p}, pw...)...)
		add(0, "restore "+n, "restore", p)
	}
	for n, p := range map[string]string{"missing": filepath.Join(f.dir, "nope"), "directory": f.dir, "empty": f.empty} {
		add(0, "ca passwd --new-password-file "+n, "ca", "passwd", "--password-file", f.pw, "--new-password-file", p)
	}
	add(0, "--spec bad YAML", append([]string{"issue", "--spec", f.badYAML}, pw...)...)
	add(0, "--spec empty", append([]string{"issue", "--spec", f.empty}, pw...)...)
	add(0, "restore empty", "restore", f.empty)
	add(0, "restore truncated backup", "restore", f.truncatedDB)
	add(0, "restore another CA's inventory", "restore", f.foreignDB)
	add(0, "restore /dev/null", "restore", "/dev/null")
	add(2, "restore no file", "restore")
	add(0, "backup over a file", "backup", f.existing)
	add(0, "backup to a directory", "backup", f.dir)
	add(0, "backup into a missing directory", "backup", filepath.Join(f.dir, "no", "such.db"))
	add(0, "backup empty name", "backup", "")
	add(0, "ca passwd short", "ca", "passwd", "--password-file", f.pw, "--new-password-file", f.shortPW)
	add(0, "ca passwd empty first line", "ca", "passwd", "--password-file", f.pw, "--new-password-file", f.emptyPW)
	add(0, "ca passwd wrong old password", "ca", "passwd", "--password-file", f.shortPW, "--new-password-file", f.pw)
	add(0, "ca passwd no new password", "ca", "passwd", "--password-file", f.pw)
	for _, v := range []string{"", "rsa", "ed25519x", "RSA-1024", "ec-p256\x00"} {
		add(2, fmt.Sprintf("--key-type %q", v), append([]string{"issue", "worker", "n2", "--key-type", v}, pw...)...)
		add(0, fmt.Sprintf("init --key-type %q", v), "init", "--home", freshHome, "--name", "X", "--key-type", v, "--password-file", f.pw)
	}
	for _, args := range [][]string{{"list"}, {"show", "n1"}, {"status"}, {"issue", "worker", "n2"}, {"revoke", "n1"}, {"ca", "show"}, {"inventory", "check"}} {
		add(2, strings.Join(args, " ")+" -o yaml", append(args, "-o", "yaml")...)
	}
	for _, args := range [][]string{{"list"}, {"issue", "worker", "n2"}, {"renew"}, {"revoke", "n1"}, {"crl"}, {"status"}, {"show", "n1"},
		{"config", "n1"}, {"export", "n1"}, {"ca", "passwd"}, {"ca", "show"}, {"ca", "rotate", "begin"}, {"inventory", "check"},
		{"backup", "x"}, {"restore", "x"}, {"init"}, {"quickstart"}} {
		add(2, strings.Join(args, " ")+" --bogus", append(args, "--bogus")...)
		add(2, strings.Join(args, " ")+" --password", append(args, "--password", "hunter2-secret")...)
	}
	add(2, "unknown command", "frobnicate")
	add(2, "inventory check extra argument", "inventory", "check", "x")
	add(0, "config --format toml", "config", "n1", "--format", "toml")
	add(0, "config --min-tls 1.0", "config", "n1", "--min-tls", "1.0")
	add(0, "config --scheduler bad address", "config", "n1", "--scheduler", "tls://[::1")
	add(0, "revoke --reason bogus", append([]string{"revoke", "n1", "--reason", "bogus"}, pw...)...)
	add(0, "revoke --reason empty", append([]string{"revoke", "n1", "--reason", ""}, pw...)...)
	add(0, "list --role nanny", "list", "--role", "nanny")
	add(0, "renew --role empty string of spaces", append([]string{"renew", "--role", "  "}, pw...)...)
	add(0, "export-root-key --out empty", append([]string{"ca", "export-root-key", "--out", ""}, pw...)...)
	add(0, "export-root-key --out existing", append([]string{"ca", "export-root-key", "--out", f.existing}, pw...)...)
	add(0, "export-root-key --out under a file", append([]string{"ca", "export-root-key", "--out", filepath.Join(f.existing, "k")}, pw...)...)
	add(0, "rotate begin --key-type bogus", append([]string{"ca", "rotate", "begin", "--key-type", "bogus"}, pw...)...)
	add(0, "init --name empty", "init", "--home", freshHome, "--name", "", "--password-file", f.pw)
	add(0, "init --name huge", "init", "--home", freshHome, "--name", strings.Repeat("N", megabyte), "--password-file", f.pw)
	add(0, "init --name NUL", "init", "--home", freshHome, "--name", "A\x00B", "--password-file", f.pw)
	add(0, "init --permit-dns bad", "init", "--home", freshHome, "--name", "X", "--permit-dns", "bad_host", "--password-file", f.pw)
	add(0, "init --permit-ip address", "init", "--home", freshHome, "--name", "X", "--permit-ip", "10.0.0.1", "--password-file", f.pw)
	add(0, "init --permit-ip /33", "init", "--home", freshHome, "--name", "X", "--permit-ip", "10.0.0.0/33", "--password-file", f.pw)
	add(0, "init --trust-domain bad", "init", "--home", freshHome, "--name", "X", "--trust-domain", "bad/td", "--password-file", f.pw)
	add(0, "init short password", "init", "--home", freshHome, "--name", "X", "--password-file", f.shortPW)
	add(0, "init existing home", "init", "--name", "X", "--password-file", f.pw)
	add(0, "quickstart existing home", "quickstart")
	return cs
}

// TestMalformedInput runs every command with malformed values: each must
// fail with one clean error line (and at most a hint), without echoing a
// password or raw control bytes, and leave the home, the input files and a
// home directory that init was pointed at byte for byte as they were.
func TestMalformedInput(t *testing.T) {
	t.Parallel()
	home, pw := mustHome(t)
	files := mustInputFiles(t, home, pw)
	freshHome := filepath.Join(t.TempDir(), "fresh")
	cases := badCases(files, freshHome)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "10 MB") {
				testtier.Full(t, "a 10 MB input (seconds each)")
			}
			before := [][]string{homeState(t, home), homeState(t, files.dir), homeState(t, filepath.Dir(freshHome))}
			code, _, stderr := runCLI(t, home, map[string]string{}, tc.args...)
			after := [][]string{homeState(t, home), homeState(t, files.dir), homeState(t, filepath.Dir(freshHome))}
			if code != 1 && code != 2 || tc.code != 0 && code != tc.code {
				t.Errorf("exit %d, want %s; stderr:\n%.2000s", code, map[int]string{0: "1 or 2", 1: "1", 2: "2"}[tc.code], stderr)
			}
			checkErrorLines(t, stderr)
			for i, where := range []string{"the home", "the input files", "the directory init was pointed at"} {
				if !slices.Equal(before[i], after[i]) {
					t.Errorf("the refused command changed %s", where)
				}
			}
		})
	}
	t.Logf("%d malformed invocations", len(cases))
}

// maxErrorLine bounds an error line: huge inputs are not echoed whole.
const maxErrorLine = 2048

// checkErrorLines checks that stderr is one "daskca: error:" line and at
// most one "hint:" line, of bounded length, printable, and free of the
// password given on the command line.
func checkErrorLines(t *testing.T, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	switch {
	case !strings.HasPrefix(stderr, "daskca: error: ") || !strings.HasSuffix(stderr, "\n"):
		t.Errorf("stderr is not an error line:\n%.2000q", stderr)
	case len(lines) > 2 || len(lines) == 2 && !strings.HasPrefix(lines[1], "hint: "):
		t.Errorf("stderr is not one error line plus an optional hint:\n%.2000q", stderr)
	}
	for _, l := range lines {
		if len(l) > maxErrorLine {
			t.Errorf("error line of %d bytes: %.200q...", len(l), l)
		}
		if !utf8.ValidString(l) || strings.ContainsFunc(l, func(r rune) bool { return unicode.IsControl(r) }) {
			t.Errorf("error line with control or invalid bytes: %.300q", l)
		}
	}
	if strings.Contains(stderr, "hunter2-secret") {
		t.Error("the error shows a password given on the command line")
	}
}

// TestHostileHome damages one thing in a home (a file others may write, a
// certificate or key of another CA, PEM garbage where a key is read) and
// runs a command that needs it: it must be refused with one error line and
// change nothing further.
func TestHostileHome(t *testing.T) {
	t.Parallel()
	other, _ := mustHome(t)
	copyFrom := func(name string) func(t *testing.T, home string) {
		return func(t *testing.T, home string) {
			data, err := os.ReadFile(filepath.Join(other, name))
			if err != nil {
				t.Fatal(err)
			}
			mustWrite(t, filepath.Join(home, name), data, 0o600)
		}
	}
	chmod := func(name string, mode os.FileMode) func(t *testing.T, home string) {
		return func(t *testing.T, home string) { mustChmod(t, filepath.Join(home, name), mode) }
	}
	tests := []struct {
		name   string
		mangle func(t *testing.T, home string)
		args   []string
		want   string
	}{
		{"group-writable CA key", chmod("ca/root.key", 0o620), []string{"issue", "worker", "n2"}, "writable by group or others"},
		{"world-writable CA directory", chmod("ca", 0o777), []string{"issue", "worker", "n2"}, "writable by group or others"},
		{"world-writable inventory", chmod("inventory.db", 0o666), []string{"list"}, "writable by group or others"},
		{"group-writable home", chmod(".", 0o770), []string{"list"}, "writable by group or others"},
		{"root certificate of another CA", copyFrom("ca/root.crt"), []string{"issue", "worker", "n2"}, "does not match its certificate"},
		{"root key of another CA", copyFrom("ca/root.key"), []string{"issue", "worker", "n2"}, "does not match its certificate"},
		{"PEM garbage as CA key", func(t *testing.T, home string) {
			mustWrite(t, filepath.Join(home, "ca/root.key"), []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), 0o600)
		}, []string{"issue", "worker", "n2"}, "root.key"},
		{"PEM garbage as endpoint key", func(t *testing.T, home string) {
			mustWrite(t, filepath.Join(home, "certs/worker/n1/key.pem"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
		}, []string{"renew", "n1", "--reuse-key"}, "key"},
		{"endpoint key of another CA's endpoint", copyFrom("certs/worker/n1/key.pem"), []string{"renew", "n1", "--reuse-key"}, "key"},
		{"PEM garbage as CA certificate", func(t *testing.T, home string) {
			mustWrite(t, filepath.Join(home, "ca/root.crt"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644)
		}, []string{"inventory", "check"}, "root.crt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, _ := mustHome(t)
			t.Cleanup(func() { _ = os.Chmod(home, 0o700); _ = os.Chmod(filepath.Join(home, "ca"), 0o700) })
			tt.mangle(t, home)
			// A refused renewal still writes and clears its journal in the
			// inventory: no record or event changes, but bbolt pages do.
			// For renew, the inventory is compared by its records.
			logical := tt.args[0] == "renew"
			state := func() []string {
				st := homeState(t, home)
				if logical {
					st = slices.DeleteFunc(st, func(s string) bool { return strings.HasPrefix(s, filepath.Join(home, "inventory.db")) })
					_, list, _ := runCLI(t, home, nil, "list", "-o", "json")
					st = append(st, list)
				}
				return st
			}
			before := state()
			code, _, stderr := runCLI(t, home, map[string]string{"DASKCA_PASSWORD": testPassword}, tt.args...)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, tt.want)
			}
			checkErrorLines(t, stderr)
			if !slices.Equal(before, state()) {
				t.Error("the refused command changed the home")
			}
		})
	}
}

func mustWrite(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

func mustChmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
