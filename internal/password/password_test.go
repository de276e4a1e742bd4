package password

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvVar {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name    string
		src     Source
		want    string
		wantErr error
	}{
		{"file first line", Source{File: write("a", "correct horse\nsecond\n")}, "correct horse", nil},
		{"file CRLF", Source{File: write("b", "pw12345678\r\n")}, "pw12345678", nil},
		{"file wins over env", Source{File: write("c", "fromfile1"), Getenv: env("fromenv12")}, "fromfile1", nil},
		{"env", Source{Getenv: env("fromenv12")}, "fromenv12", nil},
		{"nothing, no terminal", Source{Getenv: env("")}, "", ErrNone},
		{"not a terminal", Source{TTY: os.Stdin}, "", ErrNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.src.Read()
			if !errors.Is(err, tt.wantErr) || string(got) != tt.want {
				t.Errorf("Read() = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if _, err := (Source{File: write("e", "\nx")}).Read(); err == nil {
		t.Error("empty first line accepted")
	}
	if _, err := (Source{File: filepath.Join(dir, "missing")}).Read(); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := (Source{Getenv: env("short")}).ReadNew(); !errors.Is(err, ErrTooShort) {
		t.Errorf("ReadNew short = %v, want ErrTooShort", err)
	}
}

func TestWarnReadable(t *testing.T) {
	for _, tt := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o604, true}, {0o660, true}} {
		p := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(p, []byte("secret-password\n"), tt.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tt.mode); err != nil {
			t.Fatal(err)
		}
		var w strings.Builder
		pw, err := Source{File: p, Prompt: &w}.Read()
		if err != nil || string(pw) != "secret-password" {
			t.Fatalf("mode %04o: Read = %q, %v", tt.mode, pw, err)
		}
		if got := strings.HasPrefix(w.String(), "warning: password file "+p+" can be read by group or others"); got != tt.warn {
			t.Errorf("mode %04o: warning %q, want one: %t", tt.mode, w.String(), tt.warn)
		}
		if strings.Contains(w.String(), "secret-password") {
			t.Errorf("the warning shows the password")
		}
	}
}

func TestOtherEnv(t *testing.T) {
	getenv := func(k string) string { return map[string]string{EnvVar: "old-password", "NEW": "new-password"}[k] }
	pw, err := Source{Getenv: getenv, Env: "NEW"}.ReadNew()
	if err != nil || string(pw) != "new-password" {
		t.Errorf("ReadNew = %q, %v; want new-password", pw, err)
	}
}
