package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// Every daskca process, --help included, first runs the initialisation of
// every package linked into the binary, so what those inits cost is paid by
// every command (docs/performance.md, "Start-up"). These tests keep the
// expensive ones out.

// templateEngine are the modules that only go.step.sm/crypto/x509util
// brought in, for its certificate templates (sprig and what sprig needs);
// their inits compile regular expressions and build tables. The CA creates
// certificates with crypto/x509 (ca/create.go) and must not link them again.
var templateEngine = []string{
	"github.com/Masterminds/sprig/v3",
	"github.com/Masterminds/semver/v3",
	"github.com/shopspring/decimal",
	"github.com/go-jose/go-jose/v4",
}

func TestStartupLinksNoTemplateEngine(t *testing.T) {
	t.Parallel()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("the test binary has no build information")
	}
	linked := map[string]bool{}
	for _, d := range bi.Deps {
		linked[d.Path] = true
	}
	if !linked["github.com/spf13/cobra"] {
		t.Fatalf("build information lists no cobra among %d modules; cannot tell what is linked", len(bi.Deps))
	}
	for _, m := range templateEngine {
		if linked[m] {
			t.Errorf("daskca links %s: its package inits cost every start; see which import brings it with: go list -deps ./cmd/daskca", m)
		}
	}
}

// maxInitBytes bounds what one of daskca's own packages may allocate at
// initialisation. A few maps and error values are a few KiB; a regular
// expression compiled into a package-level variable is 10 to 40 KiB: make
// it a sync.OnceValue, compiled on first use.
const maxInitBytes = 16 << 10

func TestStartupInitsAllocateLittle(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -test.run=^$: %v\n%s", os.Args[0], err, out)
	}
	inits := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// init crypto/x509 @1.2 ms, 0.05 ms clock, 48 bytes, 2 allocs
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		inits++
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", sc.Text(), err)
		}
		// This package's own init here is the test binary's, tables of
		// test cases included; the command's is a few hundred bytes.
		own := f[1] == "github.com/daskca/daskca/cmd/daskca"
		if strings.HasPrefix(f[1], "github.com/daskca/daskca/") && !own && n > maxInitBytes {
			t.Errorf("package %s allocates %d bytes at init (at most %d): move the work to first use (sync.OnceValue)", f[1], n, maxInitBytes)
		}
	}
	if inits < 20 {
		t.Fatalf("GODEBUG=inittrace=1 reported %d package inits; cannot check them:\n%s", inits, out)
	}
}
