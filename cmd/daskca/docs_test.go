package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// referenceDir holds the command reference generated from the cobra tree.
const referenceDir = "../../docs/reference"

// TestReferenceDocs fails when docs/reference no longer matches the commands.
// Regenerate with: go test ./cmd/daskca -run TestReferenceDocs -update
func TestReferenceDocs(t *testing.T) {
	root := newRootCmd(env{getenv: func(string) string { return "" }})
	root.InitDefaultCompletionCmd()
	disableAutoGenTag(root)
	gen := t.TempDir()
	if err := doc.GenMarkdownTree(root, gen); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.RemoveAll(referenceDir); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(referenceDir, os.DirFS(gen)); err != nil {
			t.Fatal(err)
		}
	}
	want := readDir(t, gen)
	got := readDir(t, referenceDir)
	for name, content := range want {
		if got[name] != content {
			t.Errorf("docs/reference/%s is stale; run: go test ./cmd/daskca -run TestReferenceDocs -update", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/reference/%s documents no command; run: go test ./cmd/daskca -run TestReferenceDocs -update", name)
		}
	}
	if !slices.Contains(keys(want), "daskca_completion_bash.md") {
		t.Error("the completion command is not documented")
	}
}

func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
