package daskconfig

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestYAMLResolvesLikePyYAML pins the YAML 1.1 reading Dask gets from
// PyYAML's safe_load (values checked with PyYAML 6.0).
func TestYAMLResolvesLikePyYAML(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"1.2", 1.2}, {"1.20", 1.2}, {"1.", 1.0}, {".5", 0.5}, {"1_0.5", 10.5}, {"1.0e+3", 1000.0},
		{"1e3", "1e3"}, {"1.0e3", "1.0e3"},
		{"12", int64(12)}, {"0777", int64(511)}, {"0x1F", int64(31)}, {"0b101", int64(5)}, {"1_000", int64(1000)},
		{"1:30", int64(90)}, {"-1:00", int64(-60)}, {"0o17", "0o17"},
		{"yes", true}, {"On", true}, {"TRUE", true}, {"no", false}, {"off", false}, {"False", false},
		{"y", "y"}, {"tRue", "tRue"},
		{"~", nil}, {"null", nil}, {"", nil}, {"NULL", nil}, {"nil", "nil"},
		{"/etc/dask/ca.pem", "/etc/dask/ca.pem"}, {"tls://h:8786", "tls://h:8786"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := resolvePlain(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("resolvePlain(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
	if v := resolvePlain(".nan").(float64); !math.IsNaN(v) {
		t.Error(".nan is not NaN")
	}
	if v := resolvePlain("-.inf").(float64); !math.IsInf(v, -1) {
		t.Error("-.inf is not -Inf")
	}
}

func TestParseYAML(t *testing.T) {
	yes := true
	tests := []struct {
		name    string
		in      string
		want    Config
		wantErr string
	}{
		{"empty", "", Config{}, ""},
		{"comment only", "# nothing\n", Config{}, ""},
		{"full", `
distributed:
  comm:
    require-encryption: yes
    default-scheme: tls
    tls:
      ca-file: /ca.pem
      min-version: 1.2
      max-version: 1.3
      scheduler: {cert: /s.crt, key: /s.key}
scheduler-address: tls://s:8786
daskca: {role-policy: dask, verify-hostname: on, reload-interval: 500ms}
`, Config{RequireEncryption: &yes, DefaultScheme: "tls", SchedulerAddress: "tls://s:8786",
			TLS:    TLSConfig{CAFile: "/ca.pem", MinVersion: 1.2, MaxVersion: 1.3, Scheduler: RoleFiles{"/s.crt", "/s.key"}},
			Daskca: Extra{RolePolicy: "dask", VerifyHostname: true, ReloadInterval: 500e6}}, ""},
		{"underscores", "distributed: {comm: {tls: {ca_file: /x, min_version: 1.3}}}",
			Config{TLS: TLSConfig{CAFile: "/x", MinVersion: 1.3}}, ""},
		{"later duplicate wins", "distributed: {comm: {tls: {ca-file: /a, ca_file: /b}}}", Config{TLS: TLSConfig{CAFile: "/b"}}, ""},
		{"anchors and merge keys", `
base: &b {cert: /w.crt, key: /w.key}
distributed: {comm: {tls: {worker: {<<: *b, key: /other.key}}}}
`, Config{TLS: TLSConfig{Worker: RoleFiles{"/w.crt", "/other.key"}}}, ""},
		{"explicit str tag", "distributed: {comm: {tls: {ca-file: !!str 123}}}", Config{TLS: TLSConfig{CAFile: "123"}}, ""},
		{"nulls are unset", "distributed: {comm: {tls: {ca-file: null, min-version: ~}}}", Config{}, ""},
		{"other dask keys ignored", "distributed: {scheduler: {work-stealing: true}, comm: {compression: lz4}}", Config{}, ""},
		{"min-version string", "distributed: {comm: {tls: {min-version: '1.2'}}}", Config{},
			`distributed.comm.tls.min-version: got the string "1.2", but Dask needs a number: write 1.2 or 1.3 without quotes`},
		{"min-version 1.1", "distributed: {comm: {tls: {min-version: 1.1}}}", Config{}, "1.1 is not supported"},
		{"min-version int", "distributed: {comm: {tls: {min-version: 1}}}", Config{}, "got int 1"},
		{"max below min", "distributed: {comm: {tls: {min-version: 1.3, max-version: 1.2}}}", Config{}, "below min-version"},
		{"bool as string", "distributed: {comm: {require-encryption: 'false'}}", Config{}, `got the string "false", want a boolean`},
		{"path as number", "distributed: {comm: {tls: {ca-file: 12}}}", Config{}, "ca-file: got int 12, want a string"},
		{"comm is a string", "distributed: {comm: tcp}", Config{}, "distributed.comm: got the string \"tcp\", want a mapping"},
		{"role policy", "daskca: {role-policy: lax}", Config{}, `"lax" is not a role policy`},
		{"duration", "daskca: {reload-interval: soon}", Config{}, "not a duration"},
		{"bad ciphers", "distributed: {comm: {tls: {ciphers: RC4-MD5}}}", Config{}, "RC4"},
		{"bad scheme", "distributed: {comm: {default-scheme: udp}}", Config{}, "unknown address scheme"},
		{"top-level list", "- a\n- b\n", Config{}, "mapping at the top level"},
		{"two documents", "a: 1\n---\nb: 2\n", Config{}, "single YAML document"},
		{"syntax", "a: [1\n", Config{}, "malformed YAML"},
		{"unknown tag", "a: !python/object x\n", Config{}, "unsupported YAML tag"},
		{"bad int tag", "a: !!int x\n", Config{}, "not a valid !!int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseYAML([]byte(tt.in))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want ErrBadConfig mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseYAML = %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseYAMLAliasBomb(t *testing.T) {
	doc := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 8; i++ {
		name := string(rune('b' + i))
		doc += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	if _, err := ParseYAML([]byte(doc)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("alias bomb: err = %v, want the node limit", err)
	}
}

func FuzzParseYAML(f *testing.F) {
	f.Add([]byte("distributed: {comm: {require-encryption: true, tls: {ca-file: /ca.pem, min-version: 1.2}}}"))
	f.Add([]byte("daskca: {reload-interval: 2s, role-policy: dask}\nscheduler-address: tls://h:1\n"))
	f.Add([]byte("a: &a {b: 1}\nc: {<<: *a}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseYAML(b)
		if err != nil {
			if !errors.Is(err, ErrBadConfig) {
				t.Fatalf("error %v does not wrap ErrBadConfig", err)
			}
			return
		}
		if !utf8.ValidString(c.TLS.CAFile + c.TLS.Ciphers + c.SchedulerAddress + c.DefaultScheme + c.TLS.Scheduler.Cert +
			c.TLS.Scheduler.Key + c.TLS.Worker.Cert + c.TLS.Worker.Key + c.TLS.Client.Cert + c.TLS.Client.Key + c.Daskca.CRLFile) {
			return
		}
		out, err := c.YAML()
		if err != nil {
			t.Fatalf("rendering %+v: %v", c, err)
		}
		again, err := ParseYAML(out)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip:\n%s\n→ %+v, %v\nwant %+v", out, again, err, c)
		}
	})
}

// TestPreloadLists reads the preload keys as Dask does: a list of strings,
// or one string as a list of one; anything else names the key.
func TestPreloadLists(t *testing.T) {
	tests := []struct {
		name, yaml, env string
		want            Preloads
		err             string
	}{
		{name: "list", yaml: "distributed: {scheduler: {preload: [/p/a.py, m.mod]}}",
			env:  `DASK_DISTRIBUTED__SCHEDULER__PRELOAD=["/p/a.py", 'm.mod']`,
			want: Preloads{Scheduler: []string{"/p/a.py", "m.mod"}}},
		{name: "one string", yaml: "distributed: {nanny: {preload: /p/a.py}}",
			env:  "DASK_DISTRIBUTED__NANNY__PRELOAD=/p/a.py",
			want: Preloads{Nanny: []string{"/p/a.py"}}},
		{name: "empty list", yaml: "distributed: {worker: {preload: []}}",
			env:  "DASK_DISTRIBUTED__WORKER__PRELOAD=[]",
			want: Preloads{}},
		{name: "number in list", yaml: "distributed: {client: {preload: [1]}}",
			env: "DASK_DISTRIBUTED__CLIENT__PRELOAD=[1]",
			err: "distributed.client.preload"},
		{name: "mapping", yaml: "distributed: {client: {preload: {a: b}}}",
			env: "DASK_DISTRIBUTED__CLIENT__PRELOAD={'a': 'b'}",
			err: "distributed.client.preload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for src, load := range map[string]func() (Config, error){
				"yaml": func() (Config, error) { return ParseYAML([]byte(tt.yaml)) },
				"env":  func() (Config, error) { return ParseEnv([]string{tt.env}) },
			} {
				c, err := load()
				if tt.err != "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) {
						t.Errorf("%s: err = %v, want one naming %s", src, err, tt.err)
					}
					continue
				}
				if err != nil || !reflect.DeepEqual(c.Preload, tt.want) {
					t.Errorf("%s: preload = %#v, %v; want %#v", src, c.Preload, err, tt.want)
				}
			}
		})
	}
}
