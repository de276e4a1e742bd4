package hostlist

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseHosts(t *testing.T) {
	in := `# workers of rack 1
node001 node001.dask.internal 10.0.1.1
node002   node002.dask.internal fd00::2 10.0.1.2 # trailing comment

	node003
node004 10.0.1.4 n4.dask.internal
`
	got, err := ParseHosts(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Host{
		{Name: "node001", DNS: []string{"node001.dask.internal"}, IPs: []string{"10.0.1.1"}, Line: 2},
		{Name: "node002", DNS: []string{"node002.dask.internal"}, IPs: []string{"fd00::2", "10.0.1.2"}, Line: 3},
		{Name: "node003", Line: 5},
		{Name: "node004", DNS: []string{"n4.dask.internal"}, IPs: []string{"10.0.1.4"}, Line: 6},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseHosts =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseHostsRejects(t *testing.T) {
	tests := []struct {
		name, in, errPart string
	}{
		{"etc hosts order", "node1\n10.0.0.5 node2\n", "line 2: the name is an IP address"},
		{"long line", "node1\n" + strings.Repeat("x", maxLine+1) + "\n", "line 2: longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHosts(strings.NewReader(tt.in))
			if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("ParseHosts error = %v, want ErrSyntax containing %q", err, tt.errPart)
			}
		})
	}
}

func TestParseHostsEmpty(t *testing.T) {
	got, err := ParseHosts(strings.NewReader("# nothing\n\n   \n"))
	if err != nil || len(got) != 0 {
		t.Errorf("ParseHosts of comments only = %v, %v", got, err)
	}
}

func FuzzParseHosts(f *testing.F) {
	f.Add("node001 node001.dask.internal 10.0.1.1\n# c\nnode2\n")
	f.Add("10.0.0.1 x\n")
	f.Add("a#b c\n\tb fd00::1 # x")
	f.Fuzz(func(t *testing.T, in string) {
		hosts, err := ParseHosts(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		last := 0
		for _, h := range hosts {
			if h.Line <= last {
				t.Fatalf("line numbers not increasing: %+v", hosts)
			}
			last = h.Line
			for _, f := range append(append([]string{h.Name}, h.DNS...), h.IPs...) {
				if f == "" || strings.ContainsAny(f, "# \t\n") {
					t.Fatalf("field %q kept a separator or comment", f)
				}
			}
		}
	})
}
