package hostlist

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxHosts bounds one expansion. It is far above any Dask cluster and far
// below what would exhaust memory, so a mistyped range fails fast.
const MaxHosts = 1 << 20

// maxDigits keeps range bounds well inside uint64.
const maxDigits = 18

// Expand returns the host names a Slurm hostlist expression denotes, in
// order. Expressions are separated by commas or white space outside
// brackets; inside brackets, commas separate numbers and ranges:
//
//	node[001-003,010]   node001 node002 node003 node010
//	rack[1-2]-n[1-2]    rack1-n1 rack1-n2 rack2-n1 rack2-n2
//	a,b[7-8].x          a b7.x b8.x
//
// Duplicates are kept: callers that need unique names check for them. Errors
// wrap ErrSyntax, or ErrTooMany when the result would exceed MaxHosts.
func Expand(list string) ([]string, error) {
	exprs, err := splitTop(list)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range exprs {
		segs, n, err := parseExpr(e)
		if err != nil {
			return nil, err
		}
		if n > MaxHosts-len(out) {
			return nil, fmt.Errorf("%w: %q expands past %d hosts", ErrTooMany, list, MaxHosts)
		}
		out = appendProduct(out, segs, "")
	}
	return out, nil
}

// splitTop splits at commas and white space outside brackets.
func splitTop(list string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	flush := func(end int) {
		if end > start {
			out = append(out, list[start:end])
		}
		start = end + 1
	}
	for i := 0; i < len(list); i++ {
		switch c := list[i]; {
		case c == '[':
			if depth > 0 {
				return nil, fmt.Errorf("%w %q: nested '[' at offset %d", ErrSyntax, list, i)
			}
			depth++
		case c == ']':
			if depth == 0 {
				return nil, fmt.Errorf("%w %q: ']' without '[' at offset %d", ErrSyntax, list, i)
			}
			depth--
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			flush(i)
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("%w %q: '[' not closed", ErrSyntax, list)
	}
	flush(len(list))
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty (give e.g. node[001-128])", ErrSyntax)
	}
	return out, nil
}

// segment is one part of an expression: a literal (one choice) or a
// bracketed group (its numbers, formatted).
type segment []string

// parseExpr cuts one expression into segments and returns how many names
// it yields (at most MaxHosts+1, so the product cannot overflow).
func parseExpr(e string) ([]segment, int, error) {
	var segs []segment
	n := 1
	for e != "" {
		open := strings.IndexByte(e, '[')
		if open < 0 {
			segs = append(segs, segment{e})
			break
		}
		if open > 0 {
			segs = append(segs, segment{e[:open]})
		}
		end := strings.IndexByte(e[open:], ']') + open // balanced: splitTop checked
		group, err := parseGroup(e[open+1:end], MaxHosts/n+1)
		if err != nil {
			return nil, 0, err
		}
		segs = append(segs, group)
		n = min(n*len(group), MaxHosts+1)
		e = e[end+1:]
	}
	return segs, n, nil
}

// parseGroup expands the inside of brackets, "001-003,010", refusing to
// produce more than limit numbers.
func parseGroup(g string, limit int) (segment, error) {
	if g == "" {
		return nil, fmt.Errorf("%w: empty brackets []", ErrSyntax)
	}
	var out segment
	for _, item := range strings.Split(g, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		if !isRange {
			hi = lo
		}
		a, err := parseBound(lo, item)
		if err != nil {
			return nil, err
		}
		b, err := parseBound(hi, item)
		if err != nil {
			return nil, err
		}
		if b < a {
			return nil, fmt.Errorf("%w: range %q runs backwards", ErrSyntax, item)
		}
		if b-a >= uint64(limit-len(out)) {
			return nil, fmt.Errorf("%w: range %q expands past %d hosts", ErrTooMany, item, MaxHosts)
		}
		width := 0
		if len(lo) > 1 && lo[0] == '0' {
			width = len(lo) // Slurm keeps the padding of the lower bound
		}
		for v := a; v <= b; v++ {
			out = append(out, pad(v, width))
		}
	}
	return out, nil
}

func parseBound(s, item string) (uint64, error) {
	if s == "" || len(s) > maxDigits {
		return 0, fmt.Errorf("%w: %q in brackets: want a number or a range such as 001-128", ErrSyntax, item)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q in brackets: want a number or a range such as 001-128", ErrSyntax, item)
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

func pad(v uint64, width int) string {
	s := strconv.FormatUint(v, 10)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

// appendProduct appends every combination of segs, the left-most varying
// slowest, each prefixed by prefix.
func appendProduct(out []string, segs []segment, prefix string) []string {
	if len(segs) == 0 {
		return append(out, prefix)
	}
	for _, s := range segs[0] {
		out = appendProduct(out, segs[1:], prefix+s)
	}
	return out
}
