package daskconfig

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// envPrefix starts every environment variable Dask reads as configuration.
const envPrefix = "DASK_"

// envInherit carries a whole configuration, base64(JSON), from a Dask
// process to the processes it spawns; variables set beside it override it.
const envInherit = "DASK_INTERNAL_INHERIT_CONFIG"

// ParseEnv reads the configuration carried by DASK_* variables in environ
// (entries "NAME=value", as os.Environ returns them), as Dask's
// collect_env does:
//
//   - the name after DASK_ is lower-cased and "__" separates nesting levels,
//     so DASK_DISTRIBUTED__COMM__TLS__CA_FILE is distributed.comm.tls.ca-file
//     ('_' and '-' are the same in keys);
//   - the value is read as a Python literal (True, False, None, 1.2, 'text');
//     anything that is not one stays text, and none/null/true/false in any
//     case mean None/True/False, as in Dask 2023.1 and later (Dask 2022.12
//     keeps lower-case true as the string "true": write True/False);
//   - a later entry overrides an earlier one for the same key.
//
// Other variables are ignored. Errors name the variable and the key.
func ParseEnv(environ []string) (Config, error) {
	tree, err := envTree(environ)
	if err != nil {
		return Config{}, err
	}
	c, _, err := decodeTree(tree)
	return c, err
}

// envTree builds the config tree of the DASK_* variables.
func envTree(environ []string) (map[string]any, error) {
	tree := map[string]any{}
	for _, kv := range environ {
		if value, ok := strings.CutPrefix(kv, envInherit+"="); ok {
			base, err := inheritedTree(value)
			if err != nil {
				return nil, err
			}
			tree = base
		}
	}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) || name == envInherit {
			continue
		}
		path := strings.Split(strings.ReplaceAll(strings.ToLower(name[len(envPrefix):]), "__", "."), ".")
		setPath(tree, path, leaf{v: interpretEnvValue(value), src: "$" + name})
	}
	return tree, nil
}

// setPath assigns v at a nested path, creating (or replacing scalars with)
// mappings on the way, as dask.config.set does.
func setPath(tree map[string]any, path []string, v leaf) {
	node := tree
	for _, p := range path[:len(path)-1] {
		p = normKey(p)
		next, ok := node[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			node[p] = next
		}
		node = next
	}
	node[normKey(path[len(path)-1])] = v
}

// inheritedTree decodes DASK_INTERNAL_INHERIT_CONFIG: URL-safe base64 of a
// JSON object.
func inheritedTree(value string) (map[string]any, error) {
	raw, err := base64.URLEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return nil, &ConfigError{Source: "$" + envInherit, Key: "(whole configuration)", Msg: "not URL-safe base64: " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &ConfigError{Source: "$" + envInherit, Key: "(whole configuration)", Msg: "not JSON: " + err.Error()}
	}
	m, ok := fromJSON(v).(map[string]any)
	if !ok {
		return nil, &ConfigError{Source: "$" + envInherit, Key: "(whole configuration)", Msg: fmt.Sprintf("got %s, want a JSON object", typeName(fromJSON(v)))}
	}
	return leafify(m, "$"+envInherit), nil
}

// fromJSON converts decoded JSON into the value types of a config tree.
func fromJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = fromJSON(v[i])
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			setKey(out, k, fromJSON(x))
		}
		return out
	}
	return v
}
