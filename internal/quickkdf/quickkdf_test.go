package quickkdf

import (
	"path/filepath"
	"testing"
)

func TestMarked(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	home := filepath.Join(root, "home")
	unmark := Mark(home)
	for _, c := range []struct {
		name string
		dir  string
		want bool
	}{
		{"the marked directory", home, true},
		{"below it", filepath.Join(home, "ca-next"), true},
		{"with a trailing slash", home + "/", true},
		{"with dot segments", filepath.Join(home, "certs", "..", "ca"), true},
		{"its parent", root, false},
		{"a sibling with the same prefix", home + "2", false},
		{"elsewhere", t.TempDir(), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Marked(c.dir); got != c.want {
				t.Errorf("Marked(%s) = %v, want %v", c.dir, got, c.want)
			}
		})
	}
	unmark()
	if Marked(filepath.Join(home, "ca")) {
		t.Error("still marked after unmark")
	}
}
