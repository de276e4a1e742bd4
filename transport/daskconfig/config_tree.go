package daskconfig

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// A config tree is what Dask keeps: nested maps of string keys. Keys are
// stored with '-' for '_' (Dask treats the two as the same), inner nodes are
// map[string]any and every other value is a leaf that remembers its source,
// so that an error can say which file or variable to fix.
type leaf struct {
	v   any
	src string
}

// The dotted keys this package reads, as Dask spells them. KeyTLS, KeyCAFile
// and KeyCiphers are exported for the errors of the package that builds
// tls.Configs from a Config, which name the key to set.
const (
	keyRequireEncryption = "distributed.comm.require-encryption"
	keyDefaultScheme     = "distributed.comm.default-scheme"
	KeyTLS               = "distributed.comm.tls"
	KeyCAFile            = KeyTLS + ".ca-file"
	KeyCiphers           = KeyTLS + ".ciphers"
	keyMinVersion        = KeyTLS + ".min-version"
	keyMaxVersion        = KeyTLS + ".max-version"
	keySchedulerAddress  = "scheduler-address"
	keySchedulerPreload  = "distributed.scheduler.preload"
	keyWorkerPreload     = "distributed.worker.preload"
	keyNannyPreload      = "distributed.nanny.preload"
	keyClientPreload     = "distributed.client.preload"
	keyDaskca            = "daskca"
	keyRolePolicy        = keyDaskca + ".role-policy"
	keyVerifyHostname    = keyDaskca + ".verify-hostname"
	keyCRLFile           = keyDaskca + ".crl-file"
	keyReload            = keyDaskca + ".reload"
	keyReloadInterval    = keyDaskca + ".reload-interval"
)

// field ties one Dask key to one Config field. Decoding and both renderers
// walk the same table, in this order, so they cannot disagree.
type field struct {
	key string
	ptr func(*Config) any // *string, *bool, **bool, *float64 (a TLS version), *time.Duration or *[]string
}

var fields = []field{
	{keyRequireEncryption, func(c *Config) any { return &c.RequireEncryption }},
	{keyDefaultScheme, func(c *Config) any { return &c.DefaultScheme }},
	{KeyCAFile, func(c *Config) any { return &c.TLS.CAFile }},
	{KeyCiphers, func(c *Config) any { return &c.TLS.Ciphers }},
	{keyMinVersion, func(c *Config) any { return &c.TLS.MinVersion }},
	{keyMaxVersion, func(c *Config) any { return &c.TLS.MaxVersion }},
	{KeyTLS + ".scheduler.cert", func(c *Config) any { return &c.TLS.Scheduler.Cert }},
	{KeyTLS + ".scheduler.key", func(c *Config) any { return &c.TLS.Scheduler.Key }},
	{KeyTLS + ".worker.cert", func(c *Config) any { return &c.TLS.Worker.Cert }},
	{KeyTLS + ".worker.key", func(c *Config) any { return &c.TLS.Worker.Key }},
	{KeyTLS + ".client.cert", func(c *Config) any { return &c.TLS.Client.Cert }},
	{KeyTLS + ".client.key", func(c *Config) any { return &c.TLS.Client.Key }},
	{keySchedulerAddress, func(c *Config) any { return &c.SchedulerAddress }},
	{keySchedulerPreload, func(c *Config) any { return &c.Preload.Scheduler }},
	{keyWorkerPreload, func(c *Config) any { return &c.Preload.Worker }},
	{keyNannyPreload, func(c *Config) any { return &c.Preload.Nanny }},
	{keyClientPreload, func(c *Config) any { return &c.Preload.Client }},
	{keyRolePolicy, func(c *Config) any { return &c.Daskca.RolePolicy }},
	{keyVerifyHostname, func(c *Config) any { return &c.Daskca.VerifyHostname }},
	{keyCRLFile, func(c *Config) any { return &c.Daskca.CRLFile }},
	{keyReload, func(c *Config) any { return &c.Daskca.Reload }},
	{keyReloadInterval, func(c *Config) any { return &c.Daskca.ReloadInterval }},
}

// ConfigKeys returns the dotted Dask keys of the model, in the order they
// are rendered.
func ConfigKeys() []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.key
	}
	return out
}

// knownUnder lists the keys expected below the namespaces we own or read
// closely; anything else there earns a warning (never an error: Dask has
// keys we do not model).
var knownUnder = map[string][]string{
	KeyTLS:                {"ca-file", "ciphers", "min-version", "max-version", "scheduler", "worker", "client"},
	KeyTLS + ".scheduler": {"cert", "key"},
	KeyTLS + ".worker":    {"cert", "key"},
	KeyTLS + ".client":    {"cert", "key"},
	keyDaskca:             {"role-policy", "verify-hostname", "crl-file", "reload", "reload-interval"},
}

func normKey(k string) string { return strings.ReplaceAll(k, "_", "-") }

func setKey(m map[string]any, k string, v any) { m[normKey(k)] = v }

// leafify wraps the non-map values of a plain tree as leaves from src.
func leafify(m map[string]any, src string) map[string]any {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			m[k] = leafify(sub, src)
		} else {
			m[k] = leaf{v: v, src: src}
		}
	}
	return m
}

// mergeTree applies src over dst as Dask's config.update does: mappings
// merge key by key, any other value (null included) replaces.
func mergeTree(dst, src map[string]any) {
	for k, v := range src {
		sub, ok := v.(map[string]any)
		if !ok {
			dst[k] = v
			continue
		}
		d, ok := dst[k].(map[string]any)
		if !ok {
			d = map[string]any{}
			dst[k] = d
		}
		mergeTree(d, sub)
	}
}

// lookup finds the leaf at a dotted key. found is false when the key or a
// parent is absent or null; a parent that is some other scalar is an error.
func lookup(root map[string]any, key string) (l leaf, found bool, err error) {
	node := root
	parts := strings.Split(key, ".")
	for i, p := range parts {
		v, ok := node[p]
		if !ok {
			return leaf{}, false, nil
		}
		if i == len(parts)-1 {
			if _, isMap := v.(map[string]any); isMap {
				return leaf{}, false, &ConfigError{Key: key, Msg: "got a mapping, want a single value"}
			}
			l := v.(leaf)
			return l, l.v != nil, nil
		}
		switch v := v.(type) {
		case map[string]any:
			node = v
		case leaf:
			if v.v == nil {
				return leaf{}, false, nil
			}
			return leaf{}, false, &ConfigError{Source: v.src, Key: strings.Join(parts[:i+1], "."),
				Msg: fmt.Sprintf("got %s, want a mapping", describe(v.v))}
		}
	}
	return leaf{}, false, nil
}

// decodeTree reads a Config out of a merged tree and validates it. warnings
// lists unknown keys in the namespaces this package reads closely.
func decodeTree(root map[string]any) (c Config, warnings []string, err error) {
	for _, f := range fields {
		l, found, err := lookup(root, f.key)
		if err != nil {
			return Config{}, nil, err
		}
		if !found {
			continue
		}
		if err := decodeLeaf(f.key, l, f.ptr(&c)); err != nil {
			return Config{}, nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, nil, err
	}
	return c, unknownKeys(root), nil
}

func unknownKeys(root map[string]any) []string {
	var out []string
	for parent, known := range knownUnder {
		m, ok := subtree(root, parent)
		if !ok {
			continue
		}
		for k := range m {
			if !contains(known, k) {
				out = append(out, fmt.Sprintf("unknown key %s.%s ignored (known: %s)", parent, k, strings.Join(known, ", ")))
			}
		}
	}
	sort.Strings(out)
	return out
}

func subtree(root map[string]any, key string) (map[string]any, bool) {
	node := root
	for _, p := range strings.Split(key, ".") {
		next, ok := node[p].(map[string]any)
		if !ok {
			return nil, false
		}
		node = next
	}
	return node, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func describe(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("the string %q", s)
	}
	return fmt.Sprintf("%s %v", typeName(v), v)
}

// decodeLeaf stores a non-null leaf into the field behind ptr, insisting on
// the type Dask itself would need.
func decodeLeaf(key string, l leaf, ptr any) error {
	bad := func(msg string) error { return &ConfigError{Source: l.src, Key: key, Msg: msg} }
	switch p := ptr.(type) {
	case *string:
		s, ok := l.v.(string)
		if !ok {
			return bad(fmt.Sprintf("got %s, want a string", describe(l.v)))
		}
		*p = s
	case *bool, **bool:
		b, ok := l.v.(bool)
		if !ok {
			return bad(fmt.Sprintf("got %s, want a boolean (write true/false in YAML, True/False in a DASK_ variable)", describe(l.v)))
		}
		if q, ok := p.(*bool); ok {
			*q = b
		} else {
			*p.(**bool) = &b
		}
	case *float64:
		return decodeVersion(l, p, bad)
	case *time.Duration:
		return decodeDuration(l, p, bad)
	case *[]string:
		return decodeList(l, p, bad)
	default:
		panic(fmt.Sprintf("config field %s has unsupported type %T", key, ptr))
	}
	return nil
}

// decodeList reads a list of strings, or one string as a list of one (as
// Dask's process_preloads does). An empty list is nil, Dask's default.
func decodeList(l leaf, p *[]string, bad func(string) error) error {
	switch v := l.v.(type) {
	case string:
		*p = []string{v}
		return nil
	case []any:
		var out []string // an empty list is Dask's default: nil
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return bad(fmt.Sprintf("holds %s, want a list of strings", describe(x)))
			}
			out = append(out, s)
		}
		*p = out
		return nil
	}
	return bad(fmt.Sprintf("got %s, want a list of strings", describe(l.v)))
}

func decodeVersion(l leaf, p *float64, bad func(string) error) error {
	switch v := l.v.(type) {
	case float64:
		if v != 1.2 && v != 1.3 {
			return bad(fmt.Sprintf("%v is not supported, want 1.2, 1.3 or null", v))
		}
		*p = v
		return nil
	case string:
		return bad(fmt.Sprintf("got the string %q, but Dask needs a number: write 1.2 or 1.3 without quotes", v))
	default:
		return bad(fmt.Sprintf("got %s, want 1.2, 1.3 or null", describe(l.v)))
	}
}

func decodeDuration(l leaf, p *time.Duration, bad func(string) error) error {
	switch v := l.v.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return bad(fmt.Sprintf("%q is not a duration (write e.g. 2s, 500ms or 1m)", v))
		}
		*p = d
	case int64:
		if v > 1e9 || v < -1e9 {
			return bad(fmt.Sprintf("%d seconds is out of range", v))
		}
		*p = time.Duration(v) * time.Second
	case float64:
		if v != v || v > 1e9 || v < -1e9 {
			return bad(fmt.Sprintf("%v seconds is out of range", v))
		}
		*p = time.Duration(v * float64(time.Second))
	default:
		return bad(fmt.Sprintf("got %s, want a duration such as 2s", describe(l.v)))
	}
	if *p <= 0 {
		return bad("must be positive")
	}
	return nil
}
