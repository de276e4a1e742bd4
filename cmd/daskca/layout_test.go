package main

import (
	"os/exec"
	"strings"
	"testing"
)

// layers ranks the module's packages: a package may import only packages
// of a lower rank (docs/design.md draws the picture). Packages under
// scripts/ and internal/testkit/ are left out; nothing else may import
// internal/testkit.
var layers = map[string]int{
	"identity": 0, "internal/duration": 0, "internal/fsutil": 0, "internal/home": 0,
	"internal/hostlist": 0, "internal/password": 0, "internal/quickkdf": 0, "transport/wire": 0,
	"transport/daskconfig": 1, "ca": 1, "store": 1, "store/storetest": 2,
	"transport": 2, "homefiles": 2,
	"daskplugin": 3, "issue": 3,
	"internal/snippet": 4, "lifecycle": 4, "daskrun": 4,
	"enrol":      5,
	"cmd/daskca": 6,
}

// TestImportDirection: imports point down the layers only, no helper
// under internal/ imports a domain package (ca, issue, store, ...), and
// the transport imports nothing of daskca's but its two halves and
// identity, so any Go program can use it on its own.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/daskca/daskca/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/daskca/daskca/"
	domain := map[string]bool{"ca": true, "issue": true, "store": true, "lifecycle": true, "homefiles": true, "enrol": true}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		if strings.HasPrefix(pkg, "scripts/") || strings.HasPrefix(pkg, "internal/testkit/") {
			continue
		}
		rank, ok := layers[pkg]
		if !ok {
			t.Errorf("package %s has no layer: add it to layers and to docs/design.md", pkg)
			continue
		}
		seen++
		for _, imp := range f[1:] {
			dep, ours := strings.CutPrefix(imp, mod)
			if !ours {
				continue
			}
			switch {
			case strings.HasPrefix(dep, "internal/testkit/"):
				t.Errorf("%s imports the test helper %s", pkg, dep)
			case strings.HasPrefix(pkg, "internal/") && domain[dep]:
				t.Errorf("the helper %s imports the domain package %s", pkg, dep)
			case pkg == "transport" && dep != "transport/daskconfig" && dep != "transport/wire" && dep != "identity":
				t.Errorf("transport imports %s", dep)
			case layers[dep] >= rank:
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", pkg, rank, dep, layers[dep])
			}
		}
	}
	if seen < len(layers)-1 {
		t.Errorf("only %d of the %d packages listed were found", seen, len(layers))
	}
}
