package daskconfig

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/config")

// renderCases are the configurations with golden files in testdata/config.
func renderCases() map[string]Config {
	yes, no := true, false
	return map[string]Config{
		"empty": {},
		"worker": {
			RequireEncryption: &yes,
			DefaultScheme:     "tls",
			TLS: TLSConfig{
				CAFile:     "/etc/daskca/ca.pem",
				MinVersion: 1.2,
				Worker:     RoleFiles{Cert: "/etc/daskca/worker/node-07.crt", Key: "/etc/daskca/worker/node-07.key"},
			},
			SchedulerAddress: "tls://sched.dask.internal:8786",
		},
		"full": {
			RequireEncryption: &yes,
			DefaultScheme:     "tls",
			TLS: TLSConfig{
				CAFile:     "/srv/dask ca/ca.pem",
				Ciphers:    "ECDHE-ECDSA-AES128-GCM-SHA256:!aNULL",
				MinVersion: 1.2,
				MaxVersion: 1.3,
				Scheduler:  RoleFiles{Cert: "/p/s.crt", Key: "/p/s.key"},
				Worker:     RoleFiles{Cert: "/p/w.pem"},
				Client:     RoleFiles{Cert: "/p/c'quote.crt", Key: "yes"},
			},
			SchedulerAddress: "tls://[::1]:8786",
			Preload: Preloads{Scheduler: []string{"/p/daskca_plugin.py"}, Worker: []string{"/p/daskca_plugin.py", "my.module"},
				Nanny: []string{"/p/daskca_plugin.py"}, Client: []string{`/p/it's "here".py`}},
			Daskca: Extra{RolePolicy: PolicyStrict, VerifyHostname: true, CRLFile: "/p/ca.crl",
				Reload: &no, ReloadInterval: 1500 * time.Millisecond},
		},
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "config", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Render ./transport/ -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestRenderGoldenAndRoundTrip renders each case as YAML and as shell
// variables, compares with the golden files, and loads both back.
func TestRenderGoldenAndRoundTrip(t *testing.T) {
	for name, c := range renderCases() {
		t.Run(name, func(t *testing.T) {
			y, err := c.YAML()
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+".yaml", y)
			checkGolden(t, name+".env", []byte(c.EnvShell()))
			if back, err := ParseYAML(y); err != nil || !reflect.DeepEqual(back, c) {
				t.Errorf("YAML round trip = %+v, %v", back, err)
			}
			var env []string
			for _, v := range c.Env() {
				env = append(env, v.Name+"="+v.Value)
			}
			if back, err := ParseEnv(env); err != nil || !reflect.DeepEqual(back, c) {
				t.Errorf("env round trip = %+v, %v", back, err)
			}
		})
	}
}

func TestRenderEnvValues(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/etc/ca.pem", "/etc/ca.pem"},
		{"tls://h:8786", "tls://h:8786"},
		{"1.2", "'1.2'"},
		{"True", "'True'"},
		{"null", "'null'"},
		{"2s", "'2s'"},
		{"it's", `'it\'s'`},
		{"a\nb", `'a\nb'`},
		{" lead", "' lead'"},
		{"", "''"},
	}
	for _, tt := range tests {
		if got := pyText(tt.in); got != tt.want {
			t.Errorf("pyText(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if got := interpretEnvValue(pyText(tt.in)); got != tt.in {
			t.Errorf("interpretEnvValue(pyText(%q)) = %#v", tt.in, got)
		}
	}
	if got := ShellQuote("a'b"); got != `'a'\''b'` {
		t.Errorf("ShellQuote = %s", got)
	}
	if got := EnvName("distributed.comm.tls.ca-file"); got != "DASK_DISTRIBUTED__COMM__TLS__CA_FILE" {
		t.Errorf("EnvName = %s", got)
	}
}

// daskPython is the Python with Dask installed; without it the test fails.
func daskPython(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import dask.config, yaml").Run(); err != nil {
		t.Fatalf("/usr/bin/python3 cannot import dask: %v (apt-get install -y python3-distributed, or scripts/install-test-deps)", err)
	}
	return py
}

// daskRead asks real Dask what it reads from a YAML file and from
// environment variables; the Python prints JSON.
const daskRead = `
import ast, json, sys, dask.config
paths, env = sys.argv[1], json.loads(sys.argv[2])
print(json.dumps({"yaml": dask.config.collect([paths], env={}), "env": dask.config.collect_env(env)}))
`

// TestRenderDaskReadsIt feeds the rendered YAML and variables to the Dask
// installed here and checks every key we render comes back with the value
// and type we meant (a number stays a number, True stays a boolean).
func TestRenderDaskReadsIt(t *testing.T) {
	py := daskPython(t)
	c := renderCases()["full"]
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, t.TempDir(), "daskca.yaml", y)
	env := map[string]string{}
	for _, v := range c.Env() {
		env[v.Name] = v.Value
	}
	envJSON, _ := json.Marshal(env)
	out, err := exec.Command(py, "-c", daskRead, file, string(envJSON)).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, f := range fields {
		want, ok := renderable(&c, f)
		if !ok {
			continue
		}
		switch v := want.(type) {
		case time.Duration:
			want = v.String()
		case []string:
			list := []any{}
			for _, s := range v {
				list = append(list, s)
			}
			want = list
		}
		for _, src := range []string{"yaml", "env"} {
			if v := dig(got[src], f.key); !reflect.DeepEqual(v, want) {
				t.Errorf("dask read %s from %s as %#v, want %#v", f.key, src, v, want)
			}
		}
	}
}

// dig follows a dotted key through JSON maps, treating '-' and '_' alike.
func dig(m map[string]any, key string) any {
	var v any = m
	for _, p := range strings.Split(key, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if x, ok := mm[p]; ok {
			v = x
		} else {
			v = mm[strings.ReplaceAll(p, "-", "_")]
		}
	}
	return v
}

// TestEnvValueMatchesPython compares interpretEnvValue with Python's
// ast.literal_eval plus Dask's fallback words on awkward inputs.
func TestEnvValueMatchesPython(t *testing.T) {
	py := daskPython(t)
	inputs := []string{"True", "true", "NULL", "1.2", " 1.3", "-1.5", "1e3", "1_0.0", "12", "0x1f", "-3", "017",
		"'1.2'", `"a\tb"`, `'a' "b"`, `r'\d'`, `'\x41\u00e9'`, "/etc/ca.pem", "2s", "tls://h:1", "'bad", "it's", "",
		`["/a/p.py"]`, `[ '/a b.py' , "x" 'y', ]`, `[]`, `["a\"b", 'c\'d']`}
	script := `
import ast, json, sys
def interpret(v):
    try:
        return ast.literal_eval(v)
    except (SyntaxError, ValueError):
        pass
    return {"none": None, "null": None, "false": False, "true": True}.get(v.lower(), v)
print(json.dumps([interpret(v) for v in json.loads(sys.argv[1])]))
`
	in, _ := json.Marshal(inputs)
	out, err := exec.Command(py, "-c", script, string(in)).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var want []any
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i, s := range inputs {
		got := interpretEnvValue(s)
		if i, ok := got.(int64); ok {
			got = float64(i) // JSON numbers
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("%q: we read %#v, Python %#v", s, got, want[i])
		}
	}
}
