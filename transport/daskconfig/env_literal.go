package daskconfig

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Dask reads DASK_* values with Python's ast.literal_eval and keeps the raw
// text when that fails; Dask 2023.1 and later then also map none, null,
// true and false (any case) to None/True/False. This file implements that
// reading for the values a configuration needs: None, booleans, int and
// float numbers with an optional sign, and (concatenated, prefixed,
// triple-quoted, escaped) string literals. Bytes, complex numbers and
// containers are recognised only as "some other literal" (pyOther), which no
// key here accepts; \N{...} escapes are not decoded, so such a value is kept
// as raw text.

// pyOther stands for a Python literal of a type no key here accepts.
type pyOther struct{ kind string }

var (
	pyDigits = `[0-9](?:_?[0-9])*`
	pyPoint  = `(?:(?:` + pyDigits + `)?\.` + pyDigits + `|` + pyDigits + `\.)`
	pyExp    = `[eE][-+]?` + pyDigits
	pyIntLit = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:0(?:_?0)*|[1-9](?:_?[0-9])*|0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+)$`)
	})
	pyFltLit = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:` + pyPoint + `(?:` + pyExp + `)?|` + pyDigits + pyExp + `)$`)
	})
	pyImagLit = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:` + pyPoint + `(?:` + pyExp + `)?|` + pyDigits + `(?:` + pyExp + `)?)[jJ]$`)
	})
)

// interpretEnvValue returns what Dask makes of an environment value.
func interpretEnvValue(s string) any {
	if v, ok := pyLiteral(s); ok {
		return v
	}
	switch strings.ToLower(s) {
	case "none", "null":
		return nil
	case "true":
		return true
	case "false":
		return false
	}
	return s
}

// pyLiteral evaluates s as ast.literal_eval would; ok is false where Python
// raises, so that the caller keeps the text.
func pyLiteral(s string) (any, bool) {
	t := strings.TrimSpace(s)
	switch t {
	case "":
		return nil, false
	case "None":
		return nil, true
	case "True":
		return true, true
	case "False":
		return false, true
	}
	if open := strings.IndexByte("[({", t[0]); open >= 0 {
		if t[len(t)-1] == "])}"[open] {
			if list, ok := pyStringList(t); ok {
				return list, true
			}
			return pyOther{kind: map[byte]string{'[': "list", '(': "tuple", '{': "dict"}[t[0]]}, true
		}
		return nil, false
	}
	if v, ok := pyNumber(t); ok {
		return v, true
	}
	return pyStrings(t)
}

func pyNumber(t string) (any, bool) {
	neg := false
	if t[0] == '-' || t[0] == '+' {
		neg = t[0] == '-'
		t = strings.TrimLeft(t[1:], " \t")
	}
	switch {
	case pyIntLit().MatchString(t):
		n, err := strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 0, 64)
		if err != nil {
			if f, ferr := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64); ferr == nil {
				return sign(neg, f), true // beyond int64: keep the magnitude
			}
			return pyOther{kind: "int"}, true
		}
		if neg {
			n = -n
		}
		return n, true
	case pyFltLit().MatchString(t):
		f, _ := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
		return sign(neg, f), true
	case pyImagLit().MatchString(t):
		return pyOther{kind: "complex"}, true
	}
	return nil, false
}

func sign(neg bool, f float64) float64 {
	if neg {
		return -f
	}
	return f
}

// pyStringList reads a list literal whose items are all text string
// literals (a preload list), as []any of strings; ok is false for any other
// list, which the caller keeps as some other literal.
func pyStringList(t string) ([]any, bool) {
	if t[0] != '[' {
		return nil, false
	}
	rest := strings.TrimSpace(t[1 : len(t)-1])
	out := []any{}
	for rest != "" {
		item, tail := rest, ""
		for i, n := 0, 0; ; n++ {
			_, _, r, ok := pyStringToken(item[i:])
			if !ok {
				if n == 0 {
					return nil, false
				}
				item, tail = item[:i], item[i:]
				break
			}
			i = len(item) - len(strings.TrimLeft(r, " \t\r\n"))
			if i == len(item) || item[i] == ',' {
				item, tail = item[:i], item[i:]
				break
			}
		}
		v, ok := pyStrings(strings.TrimSpace(item))
		s, isText := v.(string)
		if !ok || !isText {
			return nil, false
		}
		out = append(out, s)
		if tail == "" {
			break
		}
		if tail[0] != ',' {
			return nil, false
		}
		rest = strings.TrimLeft(tail[1:], " \t\r\n")
	}
	return out, true
}

// pyStrings reads one or more adjacent string literals. Mixing bytes and
// text, or an f-string, makes literal_eval fail.
func pyStrings(t string) (any, bool) {
	var out strings.Builder
	sawBytes, sawText := false, false
	for t != "" {
		prefix, body, rest, ok := pyStringToken(t)
		if !ok {
			return nil, false
		}
		p := strings.ToLower(prefix)
		switch {
		case strings.Contains(p, "f"):
			return nil, false
		case strings.Contains(p, "b"):
			sawBytes = true
		default:
			sawText = true
		}
		if strings.Contains(p, "r") {
			out.WriteString(body)
		} else if !pyUnescape(&out, body) {
			return nil, false
		}
		t = strings.TrimLeft(rest, " \t\r\n")
	}
	if sawBytes && sawText {
		return nil, false
	}
	if sawBytes {
		return pyOther{kind: "bytes"}, true
	}
	return out.String(), true
}

// pyStringToken splits off one string literal: its prefix, the text between
// the quotes (escapes still in), and what follows.
func pyStringToken(t string) (prefix, body, rest string, ok bool) {
	i := 0
	for i < len(t) && i < 2 && strings.IndexByte("rRbBuUfF", t[i]) >= 0 {
		i++
	}
	prefix, t = t[:i], t[i:]
	if t == "" || (t[0] != '\'' && t[0] != '"') {
		return "", "", "", false
	}
	q := t[:1]
	if strings.HasPrefix(t, q+q+q) {
		q = q + q + q
	}
	for j := len(q); j < len(t); j++ {
		switch {
		case t[j] == '\\':
			j++ // an escaped character never closes the literal, raw or not
		case t[j] == '\n' && len(q) == 1:
			return "", "", "", false
		case strings.HasPrefix(t[j:], q):
			return prefix, t[len(q):j], t[j+len(q):], true
		}
	}
	return "", "", "", false
}

// pyUnescape decodes Python's backslash escapes; unknown ones stay as they
// are, as in Python.
func pyUnescape(out *strings.Builder, s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			out.WriteByte(c)
			continue
		}
		i++
		if r, ok := map[byte]byte{'\\': '\\', '\'': '\'', '"': '"', 'n': '\n', 't': '\t', 'r': '\r',
			'a': '\a', 'b': '\b', 'f': '\f', 'v': '\v'}[s[i]]; ok {
			out.WriteByte(r)
			continue
		}
		switch s[i] {
		case '\n':
			// a backslash-newline continues the line
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
			if i+n >= len(s) {
				return false
			}
			v, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return false
			}
			out.WriteRune(rune(v))
			i += n
		case 'N':
			return false
		default:
			if s[i] >= '0' && s[i] <= '7' {
				j := i
				for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
					j++
				}
				v, _ := strconv.ParseUint(s[i:j], 8, 32)
				out.WriteRune(rune(v))
				i = j - 1
				continue
			}
			out.WriteByte('\\')
			out.WriteByte(s[i])
		}
	}
	return true
}
