package main

import (
	"errors"
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
)

func TestActor(t *testing.T) {
	users := map[string]string{"0": "root", "1000": "alice"}
	lookup := func(uid string) (*user.User, error) {
		if name, ok := users[uid]; ok {
			return &user.User{Uid: uid, Username: name}, nil
		}
		return nil, user.UnknownUserIdError(1)
	}
	tests := []struct {
		name string
		uid  int
		env  map[string]string
		want string
	}{
		{"user", 1000, nil, "alice"},
		{"USER is not believed", 1000, map[string]string{"USER": "mallory"}, "alice"},
		{"sudo", 0, map[string]string{"SUDO_USER": "alice", "USER": "root"}, "root (sudo by alice)"},
		{"sudo -u", 1000, map[string]string{"SUDO_USER": "bob"}, "alice (sudo by bob)"},
		{"no passwd entry", 4242, nil, "uid 4242"},
		{"no passwd entry under sudo", 4242, map[string]string{"SUDO_USER": "alice"}, "uid 4242 (sudo by alice)"},
		{"hostile SUDO_USER", 0, map[string]string{"SUDO_USER": "eve\n\x1b[2J" + strings.Repeat("x", 100)}, "root (sudo by eve[2J" + strings.Repeat("x", maxActorPart-6) + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := actor(tt.uid, lookup, func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Errorf("actor = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDefaultActor: the process's own actor is the real uid's user name.
func TestDefaultActor(t *testing.T) {
	u, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		var unknown user.UnknownUserIdError
		if !errors.As(err, &unknown) {
			t.Fatal(err)
		}
		t.Fatalf("uid %d has no user name; this test needs one", os.Getuid())
	}
	t.Setenv("USER", "someone-else")
	t.Setenv("SUDO_USER", "")
	if got := defaultActor(); got != u.Username {
		t.Errorf("defaultActor() = %q, want %q", got, u.Username)
	}
}
