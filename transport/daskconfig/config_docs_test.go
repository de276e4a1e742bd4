package daskconfig

import (
	"os"
	"strings"
	"testing"
)

// TestDaskcaKeysDocumented: every daskca: key the transport reads is
// described in docs/dask-config.md, in the table of daskca's own keys.
func TestDaskcaKeysDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/dask-config.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	_, section, ok := strings.Cut(doc, "## daskca's own keys")
	if !ok {
		t.Fatal(`docs/dask-config.md has no "## daskca's own keys" section`)
	}
	for _, k := range knownUnder[keyDaskca] {
		if !strings.Contains(section, "| `"+keyDaskca+"."+k+"` |") {
			t.Errorf("docs/dask-config.md does not describe %s.%s", keyDaskca, k)
		}
	}
}
