package main

import (
	"debug/elf"
	"strings"
	"testing"
)

// TestBinaryCannotMarkQuickKeys: the daskca binary does not contain
// quickkdf.Mark, the only way to make CA keys use few PBKDF2 iterations, so
// no flag, variable or file can weaken its key derivation; only tests mark
// directories (internal/testkit/testtier.QuickKeys).
func TestBinaryCannotMarkQuickKeys(t *testing.T) {
	t.Parallel()
	f, err := elf.Open(buildDaskca(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("the daskca binary has no symbol table to check: %v", err)
	}
	const pkg = "github.com/daskca/daskca/internal/quickkdf."
	seen := false
	for _, s := range syms {
		name, ok := strings.CutPrefix(s.Name, pkg)
		if !ok {
			continue
		}
		seen = true
		if name == "Mark" || strings.HasPrefix(name, "Mark.") {
			t.Errorf("the daskca binary links %s: something outside the tests marks directories for quick CA keys", s.Name)
		}
	}
	if !seen {
		t.Fatalf("no symbol of %s* in the daskca binary: cannot tell whether it could mark directories", pkg)
	}
}
