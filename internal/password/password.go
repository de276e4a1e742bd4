// Package password obtains the CA password from the places daskca reads it,
// in order: a file named by --password-file, the DASKCA_PASSWORD environment
// variable, then an interactive prompt without echo on a terminal.
//
// Passwords are never accepted in argv, where other users can read them.
package password

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// EnvVar names the environment variable holding the CA password.
const EnvVar = "DASKCA_PASSWORD"

// MinLength is the shortest password accepted for a new CA key.
const MinLength = 8

// Errors returned by Read.
var (
	ErrNone     = errors.New("no CA password given")
	ErrMismatch = errors.New("the passwords do not match")
	ErrTooShort = fmt.Errorf("password shorter than %d characters", MinLength)
)

// Source says where a password may come from. The zero value reads nothing.
type Source struct {
	File   string              // path from --password-file; "" if not given
	Getenv func(string) string // nil: no environment
	TTY    *os.File            // terminal for the prompt; nil: never prompt
	Prompt io.Writer           // where the prompt and warnings are written (stderr)
	// Env is the environment variable to read; "" means EnvVar.
	Env string
	// Label names the password in prompts; "" means "CA password".
	Label string
}

// Read returns the password for an existing CA key.
func (s Source) Read() ([]byte, error) { return s.read(false) }

// ReadNew returns a password for a new CA key: prompted twice when
// interactive, and at least MinLength long.
func (s Source) ReadNew() ([]byte, error) {
	pw, err := s.read(true)
	if err != nil {
		return nil, err
	}
	if len(pw) < MinLength {
		return nil, ErrTooShort
	}
	return pw, nil
}

func (s Source) read(confirm bool) ([]byte, error) {
	if s.File != "" {
		b, err := os.ReadFile(s.File)
		if err != nil {
			return nil, fmt.Errorf("reading password file: %w", err)
		}
		s.warnReadable()
		line, _, _ := bytes.Cut(b, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return nil, fmt.Errorf("password file %s: first line is empty", s.File)
		}
		return line, nil
	}
	if s.Getenv != nil {
		if v := s.Getenv(s.envVar()); v != "" {
			return []byte(v), nil
		}
	}
	if s.TTY == nil || !term.IsTerminal(int(s.TTY.Fd())) {
		return nil, ErrNone
	}
	label := s.Label
	if label == "" {
		label = "CA password"
	}
	pw, err := s.prompt(label + ": ")
	if err != nil || !confirm {
		return pw, err
	}
	again, err := s.prompt(label + " (again): ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		return nil, ErrMismatch
	}
	return pw, nil
}

func (s Source) prompt(msg string) ([]byte, error) {
	if s.Prompt != nil {
		fmt.Fprint(s.Prompt, msg)
	}
	pw, err := term.ReadPassword(int(s.TTY.Fd()))
	if s.Prompt != nil {
		fmt.Fprintln(s.Prompt)
	}
	if err != nil {
		return nil, fmt.Errorf("reading password: %w", err)
	}
	return pw, nil
}

func (s Source) envVar() string {
	if s.Env != "" {
		return s.Env
	}
	return EnvVar
}

// warnReadable warns on Prompt when others than the owner may read the
// password file: the password still works, but it is no longer a secret.
func (s Source) warnReadable() {
	fi, err := os.Stat(s.File)
	if err != nil || s.Prompt == nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	fmt.Fprintf(s.Prompt, "warning: password file %s can be read by group or others (mode %04o); run chmod 600 %s\n",
		s.File, fi.Mode().Perm(), s.File)
}
