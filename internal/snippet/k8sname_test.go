package snippet

import (
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/daskca/daskca/identity"
)

// The rules Kubernetes applies (k8s.io/apimachinery/pkg/util/validation):
// IsDNS1123Subdomain for object names such as a Secret's, IsValidLabelValue
// for label values.
var (
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	k8sLabelValue    = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
)

func validObjectName(s string) bool { return len(s) <= 253 && dns1123Subdomain.MatchString(s) }
func validLabelValue(s string) bool { return len(s) <= 63 && k8sLabelValue.MatchString(s) }

// parseSecretName inverts SecretName; that it exists is the proof that
// SecretName is injective.
func parseSecretName(t *testing.T, s string) (identity.Role, string) {
	t.Helper()
	rest, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		t.Fatalf("%q lacks the prefix", s)
	}
	for _, r := range identity.Roles {
		name, ok := strings.CutPrefix(rest, string(r)+"-")
		if !ok {
			continue
		}
		i := strings.LastIndex(name, "--")
		if i < 0 {
			return r, name
		}
		b, err := nameCode.DecodeString(name[i+2:])
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return r, string(b)
	}
	t.Fatalf("%q names no role", s)
	return "", ""
}

// trickyNames collide under lower-casing, '_'/'-' folding or trimming, are
// invalid as Kubernetes names as they are, or look like encoded names.
var trickyNames = []string{
	"node2", "Node2", "NODE2", "node_2", "node-2", "node.2", "node__2", "node--2", "node-_2", "node_-2",
	"a", "A", "a.", "a-", "a_", "a.-b", "a-.b", "a._b", "a_.b", "a.b", "A.b", "a.B", "a.b.", "a.b-", "a-b.c_",
	"node2--jzxwizjs", "node2-jzxwizjs", "node-2--nzxwizk7gi", "jzxwizjs", "0", "0.0", "0-0", "0_0",
	strings.Repeat("x", 64), strings.Repeat("X", 64), strings.Repeat("x", 63) + "_", strings.Repeat("a_", 32),
	strings.Repeat("a.", 31) + "ab", strings.Repeat("Z9._-", 12) + "Z9_.",
}

func TestSecretName(t *testing.T) {
	tests := []struct {
		role identity.Role
		name string
		want string
	}{
		{identity.Worker, "node07", "dask-tls-worker-node07"},
		{identity.Worker, "node-07", "dask-tls-worker-node-07"},
		{identity.Scheduler, "sched01.dask.internal", "dask-tls-scheduler-sched01.dask.internal"},
		{identity.Worker, "Node2", "dask-tls-worker-node2--jzxwizjs"},
		{identity.Worker, "node_2", "dask-tls-worker-node-2--nzxwizk7gi"},
		{identity.Client, "a.", "dask-tls-client-a--mexa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SecretName(tt.role, tt.name); got != tt.want {
				t.Errorf("SecretName(%s, %q) = %q, want %q", tt.role, tt.name, got, tt.want)
			}
		})
	}
}

// TestSecretNamesDistinctAndValid checks every pair of (role, name) from the
// tricky names and from every name of up to four characters over an
// alphabet of each character class, then every Secret name and label value
// against Kubernetes' rules.
func TestSecretNamesDistinctAndValid(t *testing.T) {
	names := append([]string(nil), trickyNames...)
	const alphabet = "aB0.-_"
	var grow func(prefix string)
	grow = func(prefix string) {
		if prefix != "" {
			names = append(names, prefix)
		}
		if len(prefix) == 4 {
			return
		}
		for _, c := range alphabet {
			grow(prefix + string(c))
		}
	}
	grow("")
	seen := map[string]string{}
	for _, r := range identity.Roles {
		for _, n := range names {
			got := SecretName(r, n)
			who := string(r) + "/" + n
			if other, dup := seen[got]; dup && other != who {
				t.Fatalf("%s and %s both map to Secret %q", other, who, got)
			}
			seen[got] = who
			if !validObjectName(got) {
				t.Errorf("%s: Secret name %q is not a valid Kubernetes name", who, got)
			}
			if pr, pn := parseSecretName(t, got); pr != r || pn != n {
				t.Errorf("%s: %q reads back as %s/%q", who, got, pr, pn)
			}
			if v, ok := labelValue(n); ok && !validLabelValue(v) {
				t.Errorf("%s: label value %q is not valid", who, v)
			}
		}
	}
	if len(seen) != len(identity.Roles)*len(uniq(names)) {
		t.Errorf("%d Secret names for %d endpoints", len(seen), len(identity.Roles)*len(uniq(names)))
	}
}

func uniq(ss []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

// FuzzSecretName: any two distinct names over the endpoint-name alphabet,
// up to the longest endpoint name, map to distinct, valid Secret names.
func FuzzSecretName(f *testing.F) {
	f.Add([]byte("Node2"), []byte("node2"))
	f.Add([]byte("node_2"), []byte("node-2"))
	f.Add([]byte("a."), []byte("a"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		na, nb := endpointName(a), endpointName(b)
		if na == "" || nb == "" {
			return
		}
		sa, sb := SecretName(identity.Worker, na), SecretName(identity.Worker, nb)
		if !validObjectName(sa) {
			t.Fatalf("%q: Secret name %q is not valid", na, sa)
		}
		if na != nb && sa == sb {
			t.Fatalf("%q and %q both map to %q", na, nb, sa)
		}
		if _, n := parseSecretName(t, sa); n != na {
			t.Fatalf("%q: %q reads back as %q", na, sa, n)
		}
	})
}

// endpointName maps fuzz bytes onto the endpoint-name alphabet, at most 64
// characters, starting with a letter or digit.
func endpointName(b []byte) string {
	const alphabet = "abcXYZ0129.-_"
	if len(b) > 64 {
		b = b[:64]
	}
	var s strings.Builder
	for i, c := range b {
		a := alphabet
		if i == 0 {
			a = alphabet[:10]
		}
		s.WriteByte(a[int(c)%len(a)])
	}
	return s.String()
}

// TestK8sSecretLabels: a name that is not a valid label value (too long,
// ending in '.', '-' or '_') is left out of the labels, and the exact name
// is always in the annotation.
func TestK8sSecretLabels(t *testing.T) {
	m := Material{CA: []byte("CA\n"), Cert: []byte("CERT\n"), Key: []byte("KEY\n")}
	for _, name := range trickyNames {
		t.Run(name, func(t *testing.T) {
			out, err := K8sSecret(identity.Worker, name, "/etc/dask/tls", m, opts)
			if err != nil {
				t.Fatal(err)
			}
			var s struct {
				Metadata struct {
					Name        string
					Labels      map[string]string
					Annotations map[string]string
				}
			}
			if err := yaml.Unmarshal([]byte(out), &s); err != nil {
				t.Fatal(err)
			}
			if s.Metadata.Name != SecretName(identity.Worker, name) || s.Metadata.Annotations["daskca.io/name"] != name {
				t.Errorf("metadata %+v", s.Metadata)
			}
			for k, v := range s.Metadata.Labels {
				if !validLabelValue(v) {
					t.Errorf("label %s=%q is not a valid label value", k, v)
				}
			}
			if _, ok := s.Metadata.Labels["daskca.io/name"]; ok != validLabelValue(name) {
				t.Errorf("label daskca.io/name present=%v for %q", ok, name)
			}
			if !strings.Contains(out, "secretName: "+s.Metadata.Name+"\n") {
				t.Errorf("the pod fragment does not mount Secret %s:\n%s", s.Metadata.Name, out)
			}
		})
	}
}
