package issue

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/hostlist"
)

const specExample = `# the whole cluster
defaults:
  validity: 90d
endpoints:
  - role: scheduler
    name: sched01
    dns: [sched01.dask.internal]
    ips: [10.0.0.5]
  - role: worker
    hosts: node[001-004].dask.internal
    ip_range: 10.0.1.0/24
  - role: worker
    hosts_file: gpu.txt
    validity: 30d
    key_type: ec-p384
  - role: client
    names: [alice, bob]
`

func TestLoadSpec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "cluster.yaml"), specExample)
	mustWrite(t, filepath.Join(dir, "gpu.txt"), "# gpus\ngpu1 gpu1.dask.internal 10.0.2.1\n")
	reqs, err := LoadSpec(filepath.Join(dir, "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range reqs {
		got = append(got, strings.Join([]string{string(r.Role), r.Name, strings.Join(r.DNS, ","), strings.Join(r.IPs, ","),
			r.Validity.String(), string(r.KeyType)}, " "))
	}
	want := []string{
		"scheduler sched01 sched01.dask.internal 10.0.0.5 2160h0m0s ",
		"worker node001 node001.dask.internal 10.0.1.1 2160h0m0s ",
		"worker node002 node002.dask.internal 10.0.1.2 2160h0m0s ",
		"worker node003 node003.dask.internal 10.0.1.3 2160h0m0s ",
		"worker node004 node004.dask.internal 10.0.1.4 2160h0m0s ",
		"worker gpu1 gpu1.dask.internal 10.0.2.1 720h0m0s " + string(ca.ECP384),
		"client alice   2160h0m0s ",
		"client bob   2160h0m0s ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseSpecRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, errPart string
	}{
		{"empty", "", "empty"},
		{"no endpoints", "defaults: {validity: 1y}\n", "no endpoints"},
		{"unknown key", "endpoints:\n  - role: worker\n    nmae: x\n", "field nmae not found"},
		{"unknown top key", "endpoint:\n  - role: worker\n", "field endpoint not found"},
		{"bad role", "endpoints:\n  - role: nanny\n    name: x\n", "endpoint 1: role"},
		{"no source", "endpoints:\n  - role: worker\n", "exactly one of"},
		{"two sources", "endpoints:\n  - role: worker\n    name: a\n    hosts: b[1-2]\n", "exactly one of"},
		{"dns with hosts", "endpoints:\n  - role: worker\n    hosts: b[1-2]\n    dns: [x.y]\n", "dns and ips go only with name"},
		{"range with name", "endpoints:\n  - role: worker\n    name: a\n    ip_range: 10.0.0.0/24\n", "ip_range goes with"},
		{"bad validity", "endpoints:\n  - role: worker\n    name: a\n    validity: 3mo\n", "validity"},
		{"bad default key", "defaults: {key_type: dsa}\nendpoints:\n  - role: worker\n    name: a\n", "defaults: key_type"},
		{"two documents", "endpoints:\n  - {role: worker, name: a}\n---\nendpoints: []\n", "more than one"},
		{"not yaml", "endpoints: [", "yaml"},
		{"wrong type", "endpoints: {role: worker}\n", "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tt.in))
			if !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("ParseSpec error = %v, want ErrSpec containing %q", err, tt.errPart)
			}
		})
	}
}

func TestSpecRequestsRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     error
	}{
		{"bad hostlist", "endpoints:\n  - {role: worker, hosts: 'n[1-'}\n", hostlist.ErrSyntax},
		{"ip hostlist", "endpoints:\n  - {role: worker, hosts: '10.0.0.[1-2]'}\n", hostlist.ErrSyntax},
		{"range too small", "endpoints:\n  - {role: worker, hosts: 'n[1-9]', ip_range: 10.0.0.0/29}\n", hostlist.ErrRange},
		{"missing hosts file", "endpoints:\n  - {role: worker, hosts_file: nope.txt}\n", fs.ErrNotExist},
		{"bad hosts file", "endpoints:\n  - {role: worker, hosts_file: etc-hosts}\n", hostlist.ErrSyntax},
		{"too many", "endpoints:\n  - {role: worker, hosts: 'a[1-1048576]'}\n  - {role: client, name: x}\n", hostlist.ErrTooMany},
	}
	read := func(name string) ([]byte, error) {
		if name == "etc-hosts" {
			return []byte("10.0.0.1 node1\n"), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSpec([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Requests(read)
			if !errors.Is(err, ErrSpec) || !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "endpoint ") {
				t.Errorf("Requests error = %v, want ErrSpec and %v naming the endpoint", err, tt.want)
			}
		})
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(specExample))
	f.Add([]byte("endpoints:\n  - {role: worker, hosts: 'n[1-3]', ip_range: 10.0.0.0/30}\n"))
	f.Add([]byte("defaults: {validity: 1y}\nendpoints:\n  - {role: client, names: [a, b]}\n"))
	f.Add([]byte("endpoints: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec(data)
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("error %v does not wrap ErrSpec", err)
			}
			return
		}
		reqs, err := s.Requests(func(string) ([]byte, error) { return []byte("h1 h1.x.y\nh2\n"), nil })
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("error %v does not wrap ErrSpec", err)
			}
			return
		}
		for _, r := range reqs {
			if _, err := identity.ParseRole(string(r.Role)); err != nil || r.Validity < 0 || r.Validity > 0 && r.Validity < time.Second {
				t.Fatalf("request %+v from an accepted spec", r)
			}
		}
	})
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
