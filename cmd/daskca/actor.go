package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"unicode"
)

// maxActorPart bounds each part of the actor, as SUDO_USER comes from the
// environment and the audit log is kept for ever.
const maxActorPart = 64

// actor names who runs daskca, for the audit log: the user name of the
// real uid (not $USER, which anyone can set), and, when SUDO_USER is set,
// the user sudo says started it: "root (sudo by alice)". A uid without a
// user name is recorded as "uid 1234". lookup is user.LookupId.
func actor(uid int, lookup func(string) (*user.User, error), getenv func(string) string) string {
	who := "uid " + strconv.Itoa(uid)
	if u, err := lookup(strconv.Itoa(uid)); err == nil && u.Username != "" {
		who = printable(u.Username)
	}
	if by := printable(getenv("SUDO_USER")); by != "" {
		who += fmt.Sprintf(" (sudo by %s)", by)
	}
	return who
}

// printable keeps s's printable characters, at most maxActorPart of them.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
	if r := []rune(s); len(r) > maxActorPart {
		s = string(r[:maxActorPart])
	}
	return strings.TrimSpace(s)
}

func defaultActor() string { return actor(os.Getuid(), user.LookupId, os.Getenv) }
