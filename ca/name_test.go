package ca

import (
	"errors"
	"strings"
	"testing"
)

// TestNewRefusesBadNames: a CA name must be printable UTF-8 of at most 64
// characters (ub-common-name), since it becomes the subject CN of every
// CA certificate and is echoed in messages.
func TestNewRefusesBadNames(t *testing.T) {
	t.Parallel()
	for name, n := range map[string]string{
		"NUL":           "Acme\x00CA",
		"newline":       "Acme\nCA",
		"escape":        "Acme\x1b[31mCA",
		"invalid UTF-8": "Acme\xffCA",
		"65 characters": strings.Repeat("é", 65),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(Options{Name: n}); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("New(%q) = %v, want ErrInvalidOptions", n, err)
			}
		})
	}
	if _, err := New(Options{Name: strings.Repeat("é", 64)}); err != nil {
		t.Errorf("a 64-character name: %v", err)
	}
}
