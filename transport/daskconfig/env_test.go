package daskconfig

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestEnvValueLikeDask pins how Dask (2023.1+) reads DASK_* values:
// ast.literal_eval, else none/null/true/false in any case, else the text.
func TestEnvValueLikeDask(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"True", true}, {"False", false}, {"None", nil},
		{"true", true}, {"FALSE", false}, {"null", nil}, {"none", nil},
		{"1.2", 1.2}, {" 1.3", 1.3}, {"-1.5", -1.5}, {"1e3", 1000.0}, {"1_0.0", 10.0},
		{"12", int64(12)}, {"0x1f", int64(31)}, {"0o17", int64(15)}, {"-3", int64(-3)}, {"- 3", int64(-3)},
		{"017", "017"}, // a leading zero is a syntax error in Python 3
		{"'1.2'", "1.2"}, {`"a\tb"`, "a\tb"}, {`'a' "b"`, "ab"}, {`r'\d'`, `\d`}, {`'\x41\u00e9'`, "Aé"},
		{`'''x'''`, "x"}, {`u'x'`, "x"},
		{"/etc/dask/ca.pem", "/etc/dask/ca.pem"}, {"tls://h:8786", "tls://h:8786"}, {"2s", "2s"},
		{"ECDHE-ECDSA-AES128-GCM-SHA256:!aNULL", "ECDHE-ECDSA-AES128-GCM-SHA256:!aNULL"},
		{"'unterminated", "'unterminated"}, {`f'x'`, "f'x'"}, {"", ""},
		{"[1, 2]", pyOther{"list"}}, {"1j", pyOther{"complex"}}, {"b'x'", pyOther{"bytes"}}, {`b'x' 'y'`, `b'x' 'y'`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := interpretEnvValue(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("interpretEnvValue(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseEnv(t *testing.T) {
	yes, no := true, false
	inherit := base64.URLEncoding.EncodeToString([]byte(`{"distributed": {"comm": {"tls": {"ca-file": "/inherited", "min-version": 1.2}}}}`))
	tests := []struct {
		name    string
		env     []string
		want    Config
		wantErr string
	}{
		{"typical", []string{
			"HOME=/root",
			"DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True",
			"DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/ca.pem",
			"DASK_DISTRIBUTED__COMM__TLS__MIN_VERSION=1.3",
			"DASK_DISTRIBUTED__COMM__TLS__WORKER__CERT=/w.pem",
			"DASK_SCHEDULER_ADDRESS=tls://s:8786",
			"DASK_DASKCA__RELOAD=False",
			"DASK_DASKCA__RELOAD_INTERVAL=10",
		}, Config{RequireEncryption: &yes, SchedulerAddress: "tls://s:8786",
			TLS:    TLSConfig{CAFile: "/ca.pem", MinVersion: 1.3, Worker: RoleFiles{Cert: "/w.pem"}},
			Daskca: Extra{Reload: &no, ReloadInterval: 10e9}}, ""},
		{"lower-case true (Dask 2023.1+)", []string{"DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=true"}, Config{RequireEncryption: &yes}, ""},
		{"later wins", []string{"DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/a", "DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/b"},
			Config{TLS: TLSConfig{CAFile: "/b"}}, ""},
		{"inherited config under variables", []string{"DASK_INTERNAL_INHERIT_CONFIG=" + inherit, "DASK_DISTRIBUTED__COMM__TLS__MIN_VERSION=1.3"},
			Config{TLS: TLSConfig{CAFile: "/inherited", MinVersion: 1.3}}, ""},
		{"None unsets", []string{"DASK_DISTRIBUTED__COMM__TLS__CA_FILE=None"}, Config{}, ""},
		{"quoted version", []string{`DASK_DISTRIBUTED__COMM__TLS__MIN_VERSION="1.2"`}, Config{},
			`$DASK_DISTRIBUTED__COMM__TLS__MIN_VERSION: distributed.comm.tls.min-version: got the string "1.2"`},
		{"yes is text to Python", []string{"DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=yes"}, Config{}, "want a boolean"},
		{"list for a path", []string{"DASK_DISTRIBUTED__COMM__TLS__CA_FILE=['/a']"}, Config{}, "got list"},
		{"bad inherit", []string{"DASK_INTERNAL_INHERIT_CONFIG=%%%"}, Config{}, "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnv(tt.env)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want ErrBadConfig mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseEnv = %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

func FuzzParseEnv(f *testing.F) {
	f.Add("DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/ca.pem\nDASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True")
	f.Add("DASK_DISTRIBUTED__COMM__TLS__MIN_VERSION=1.2\nDASK_DASKCA__RELOAD_INTERVAL='2s'")
	f.Add("DASK_DISTRIBUTED__COMM__TLS__CIPHERS=\"HIGH\" '!aNULL'")
	f.Add(`DASK_DISTRIBUTED__WORKER__PRELOAD=["/p/daskca_plugin.py", 'm' "x"]`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseEnv(strings.Split(s, "\n"))
		if err != nil {
			if !errors.Is(err, ErrBadConfig) {
				t.Fatalf("error %v does not wrap ErrBadConfig", err)
			}
			return
		}
		var env []string
		for _, v := range c.Env() {
			if !utf8.ValidString(v.Value) {
				return
			}
			env = append(env, v.Name+"="+v.Value)
		}
		again, err := ParseEnv(env)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip: %q → %+v, %v; want %+v", env, again, err, c)
		}
	})
}
