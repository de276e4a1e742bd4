package home

import (
	"path/filepath"
	"testing"
)

func TestDefault(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvVar {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name, flag, env, want string
	}{
		{"flag wins", "/a", "/b", "/a"},
		{"env", "", "/b", "/b"},
		{"relative made absolute", "rel", "", mustAbs(t, "rel")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Default(tt.flag, env(tt.env))
			if err != nil || l.Dir != tt.want {
				t.Errorf("Default = %q, %v; want %q", l.Dir, err, tt.want)
			}
		})
	}
	l, err := Default("", env(""))
	if err != nil || filepath.Base(l.Dir) != ".daskca" {
		t.Errorf("Default with nothing set = %q, %v", l.Dir, err)
	}
}

func TestEndpoint(t *testing.T) {
	l := Layout{Dir: "/h"}
	f := l.Endpoint("worker", "node07")
	want := Files{"/h/certs/worker/node07/cert.pem", "/h/certs/worker/node07/key.pem", "/h/certs/worker/node07/ca.pem", "/h/certs/worker/node07/combined.pem"}
	if f != want {
		t.Errorf("Endpoint = %+v, want %+v", f, want)
	}
	if l.Inventory() != "/h/inventory.db" || l.CADir() != "/h/ca" || l.Bundle() != "/h/ca-bundle.pem" {
		t.Error("unexpected layout paths")
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
