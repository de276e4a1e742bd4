package issue

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/daskca/daskca/ca"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/duration"
	"github.com/daskca/daskca/internal/hostlist"
)

// maxSpecSize bounds a spec file; a spec for a million hosts written as
// hostlists is a few kilobytes.
const maxSpecSize = 16 << 20

// Spec describes every certificate of one cluster. It is read from YAML:
//
//	defaults:                 # optional, for every endpoint
//	  validity: 90d           # zero: DefaultValidity
//	  key_type: ec-p256       # zero: ca.ECP256
//	endpoints:
//	  - role: scheduler
//	    name: sched01
//	    dns: [sched01.dask.internal]
//	    ips: [10.0.0.5]
//	  - role: worker
//	    hosts: node[001-512].dask.internal   # a Slurm hostlist
//	    ip_range: 10.0.0.0/22                # optional: addresses in order
//	  - role: worker
//	    hosts_file: gpu-nodes.txt            # relative to the spec file
//	    validity: 30d
//	  - role: client
//	    names: [alice, bob]
//
// Each endpoint has a role and exactly one of name, names, hosts or
// hosts_file; dns and ips go only with name, ip_range with the others.
// Unknown keys are errors, so a misspelt key never silently does nothing.
type Spec struct {
	Defaults  SpecDefaults   `yaml:"defaults"`
	Endpoints []SpecEndpoint `yaml:"endpoints"`
}

// SpecDefaults apply to every endpoint that does not set its own.
type SpecDefaults struct {
	Validity string `yaml:"validity"`
	KeyType  string `yaml:"key_type"`
}

// SpecEndpoint is one entry of a Spec: one certificate or a group of them.
type SpecEndpoint struct {
	Role      string   `yaml:"role"`
	Name      string   `yaml:"name"`
	Names     []string `yaml:"names"`
	Hosts     string   `yaml:"hosts"`
	HostsFile string   `yaml:"hosts_file"`
	DNS       []string `yaml:"dns"`
	IPs       []string `yaml:"ips"`
	IPRange   string   `yaml:"ip_range"`
	Validity  string   `yaml:"validity"`
	KeyType   string   `yaml:"key_type"`
}

// ParseSpec reads a spec and checks its structure: known keys only, at
// least one endpoint, each with a known role and one source of names,
// valid lifetimes and key types. Names and SANs are checked by Requests and
// Plan. Errors wrap ErrSpec.
func ParseSpec(data []byte) (*Spec, error) {
	if len(data) > maxSpecSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrSpec, maxSpecSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty (it needs an endpoints: list)", ErrSpec)
		}
		return nil, fmt.Errorf("%w: %w", ErrSpec, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrSpec)
	}
	if len(s.Endpoints) == 0 {
		return nil, fmt.Errorf("%w: no endpoints", ErrSpec)
	}
	if _, err := s.Defaults.base(Request{}); err != nil {
		return nil, fmt.Errorf("%w: defaults: %w", ErrSpec, err)
	}
	for i, e := range s.Endpoints {
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("%w: endpoint %d: %w", ErrSpec, i+1, err)
		}
	}
	return &s, nil
}

// base applies the validity and key type d sets to r; unset ones leave r
// as it is (zero values in a Request mean the defaults).
func (d SpecDefaults) base(r Request) (Request, error) {
	if d.Validity != "" {
		v, err := duration.Parse(d.Validity)
		if err != nil {
			return r, fmt.Errorf("validity: %w", err)
		}
		r.Validity = v
	}
	if d.KeyType != "" {
		kt, err := ca.ParseKeyType(d.KeyType)
		if err != nil {
			return r, fmt.Errorf("key_type: %w", err)
		}
		r.KeyType = kt
	}
	return r, nil
}

func (e SpecEndpoint) check() error {
	if _, err := identity.ParseRole(e.Role); err != nil {
		return fmt.Errorf("role: %w", err)
	}
	sources := 0
	for _, set := range []bool{e.Name != "", len(e.Names) > 0, e.Hosts != "", e.HostsFile != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources != 1:
		return errors.New("give exactly one of name, names, hosts or hosts_file")
	case e.Name == "" && len(e.DNS)+len(e.IPs) > 0:
		return errors.New("dns and ips go only with name (a hosts file lists them per host)")
	case e.Name != "" && e.IPRange != "":
		return errors.New("ip_range goes with names, hosts or hosts_file; give one address with ips")
	}
	_, err := SpecDefaults{Validity: e.Validity, KeyType: e.KeyType}.base(Request{})
	return err
}

// Requests expands the spec into one request per certificate, in spec
// order. readFile reads a hosts_file by the name the spec gives. Errors
// wrap ErrSpec and name the endpoint.
func (s *Spec) Requests(readFile func(name string) ([]byte, error)) ([]Request, error) {
	var out []Request
	for i, e := range s.Endpoints {
		reqs, err := s.endpointRequests(e, readFile)
		if err == nil && len(out)+len(reqs) > hostlist.MaxHosts {
			err = fmt.Errorf("%w: more than %d certificates", hostlist.ErrTooMany, hostlist.MaxHosts)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: endpoint %d (%s): %w", ErrSpec, i+1, e.Role, err)
		}
		out = append(out, reqs...)
	}
	return out, nil
}

func (s *Spec) endpointRequests(e SpecEndpoint, readFile func(string) ([]byte, error)) ([]Request, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	base, _ := s.Defaults.base(Request{Role: identity.Role(e.Role)})
	base, _ = SpecDefaults{Validity: e.Validity, KeyType: e.KeyType}.base(base)
	switch {
	case e.Name != "":
		base.Name, base.DNS, base.IPs = e.Name, e.DNS, e.IPs
		return []Request{base}, nil
	case len(e.Names) > 0:
		return NameRequests(base, e.Names, e.IPRange)
	case e.Hosts != "":
		return HostRequests(base, e.Hosts, e.IPRange)
	}
	data, err := readFile(e.HostsFile)
	if err != nil {
		return nil, fmt.Errorf("hosts_file: %w", err)
	}
	reqs, err := HostsFileRequests(base, bytes.NewReader(data), e.IPRange)
	if err != nil {
		return nil, fmt.Errorf("hosts_file %s: %w", e.HostsFile, err)
	}
	for i := range reqs {
		reqs[i].Origin = "hosts_file " + e.HostsFile + " " + reqs[i].Origin
	}
	return reqs, nil
}

// LoadSpec reads the spec file at path and expands it into requests. A
// hosts_file is read relative to the spec file's directory and must stay
// inside it: an absolute path, one with "..", or a link leading out of the
// directory is refused (ErrSpec), so a spec cannot make daskca read, and
// report on, a file elsewhere. Its lines are reported by number.
func LoadSpec(path string) ([]Request, error) {
	data, err := readLimited(path, maxSpecSize)
	if err != nil {
		return nil, err
	}
	s, err := ParseSpec(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	reqs, err := s.Requests(func(name string) ([]byte, error) {
		p, err := hostsFileIn(dir, name)
		if err != nil {
			return nil, err
		}
		return readLimited(p, 256<<20)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return reqs, nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// hostsFileIn resolves a spec's hosts_file name against the spec's
// directory dir, refusing a name that leads out of it.
func hostsFileIn(dir, name string) (string, error) {
	if !filepath.IsLocal(name) {
		return "", fmt.Errorf("%w: %s is not a path inside the spec's directory (an absolute path or one with \"..\"); put the hosts file beside the spec, or pass it with --hosts-file", ErrSpec, name)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	p, err := filepath.EvalSymlinks(filepath.Join(root, name))
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(root, p); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%w: %s leads out of the spec's directory through a symbolic link", ErrSpec, name)
	}
	return p, nil
}
