package hostlist

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"node07", []string{"node07"}},
		{"node[1-3]", []string{"node1", "node2", "node3"}},
		{"node[001-003,010]", []string{"node001", "node002", "node003", "node010"}},
		{"node[08-11]", []string{"node08", "node09", "node10", "node11"}},
		{"n[9-11]", []string{"n9", "n10", "n11"}},
		{"n[0-1]", []string{"n0", "n1"}},
		{"node[1-2].dask.internal", []string{"node1.dask.internal", "node2.dask.internal"}},
		{"rack[1-2]-n[1-2]", []string{"rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"}},
		{"a,b[7-8].x", []string{"a", "b7.x", "b8.x"}},
		{"a b\tc", []string{"a", "b", "c"}},
		{"sched01,node[1-2]", []string{"sched01", "node1", "node2"}},
		{"n[5]", []string{"n5"}},
		{"n[3,1]", []string{"n3", "n1"}},
		{"n[1,1]", []string{"n1", "n1"}},
		{"[1-2]", []string{"1", "2"}},
		{",a,,b,", []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Expand(tt.in)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestExpandCount(t *testing.T) {
	got, err := Expand("node[001-512].dask.internal")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 512 || got[0] != "node001.dask.internal" || got[511] != "node512.dask.internal" {
		t.Errorf("got %d names, first %q, last %q", len(got), got[0], got[len(got)-1])
	}
}

func TestExpandRejects(t *testing.T) {
	tests := []struct {
		in      string
		want    error
		errPart string
	}{
		{"", ErrSyntax, "empty"},
		{" , ", ErrSyntax, "empty"},
		{"n[1-3", ErrSyntax, "not closed"},
		{"n1-3]", ErrSyntax, "without '['"},
		{"n[[1]]", ErrSyntax, "nested"},
		{"n[]", ErrSyntax, "empty brackets"},
		{"n[3-1]", ErrSyntax, "backwards"},
		{"n[a-b]", ErrSyntax, "want a number"},
		{"n[1-]", ErrSyntax, "want a number"},
		{"n[-1]", ErrSyntax, "want a number"},
		{"n[1-2-3]", ErrSyntax, "want a number"},
		{"n[1,,2]", ErrSyntax, "want a number"},
		{"n[1 -2]", ErrSyntax, "want a number"},
		{"n[1234567890123456789]", ErrSyntax, "want a number"},
		{"n[1-999999999]", ErrTooMany, "expands past"},
		{"a[1-1024]b[1-1025]", ErrTooMany, "expands past"},
		{"a[1-1048576],b", ErrTooMany, "expands past"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Expand(tt.in)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("Expand(%q) = %d names, %v; want %v containing %q", tt.in, len(got), err, tt.want, tt.errPart)
			}
		})
	}
}

func TestExpandLimit(t *testing.T) {
	got, err := Expand("a[1-1024]b[1-1024]")
	if err != nil || len(got) != MaxHosts {
		t.Fatalf("Expand at the limit: %d names, %v", len(got), err)
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"node[001-128,200]", "rack[1-2]-n[01-04].x", "a,b c", "n[1-3", "n[3-1]", "[]", "a[1-1024]b[1-1025]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Expand(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooMany) {
				t.Fatalf("Expand(%q): error %v wraps neither sentinel", s, err)
			}
			return
		}
		if len(got) == 0 || len(got) > MaxHosts {
			t.Fatalf("Expand(%q) = %d names", s, len(got))
		}
		for _, h := range got {
			if h == "" || strings.ContainsAny(h, "[], \t\r\n") {
				t.Fatalf("Expand(%q) produced %q", s, h)
			}
		}
		if !strings.ContainsAny(s, "[]") {
			// Without brackets, expansion is only splitting.
			if want := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(", \t\r\n", r) }); !slices.Equal(got, want) {
				t.Fatalf("Expand(%q) = %q, want %q", s, got, want)
			}
		}
		// A list of the expanded names expands to itself.
		if len(got) <= 1000 {
			again, err := Expand(strings.Join(got, ","))
			if err != nil || !slices.Equal(again, got) {
				t.Fatalf("re-expanding %q: %q, %v", got, again, err)
			}
		}
	})
}
