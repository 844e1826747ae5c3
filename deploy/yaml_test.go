package deploy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The module has no YAML library (go.sum holds only gopkg.in/yaml.v3's go.mod
// hash, as a dependency of a dependency), and the kit must not add one. So
// the tests parse the kit's YAML with parseYAML: a strict reader of the block
// subset the kit is written in: mappings, sequences, plain, single- and
// double-quoted scalars, one-line flow sequences, `|` and `|-` literal blocks,
// comments and `---` document separators. Anything outside that subset
// (anchors, tags, flow mappings, folded blocks, tabs, duplicate keys, plain
// scalars a real parser would read differently) is an error, so a file it
// accepts means the same to it as to kubectl and Prometheus.

var (
	errYAMLTab      = errors.New("yaml: tab in indentation")
	errYAMLIndent   = errors.New("yaml: bad indentation")
	errYAMLDupKey   = errors.New("yaml: duplicate key")
	errYAMLQuote    = errors.New("yaml: unterminated or malformed quoted scalar")
	errYAMLScalar   = errors.New("yaml: scalar outside the supported subset")
	errYAMLExpected = errors.New("yaml: expected a mapping entry")
)

// yamlLine is one meaningful source line: its indentation, its text without
// comment or trailing space, and, for a line ending in `|` or `|-`, the
// literal block that follows it.
type yamlLine struct {
	no     int
	indent int
	text   string
	block  *string
}

// parseYAML parses src into one value per document: map[string]any, []any,
// string or nil.
func parseYAML(src string) ([]any, error) {
	var docs []any
	lines, err := yamlLines(src)
	if err != nil {
		return nil, err
	}
	start := 0
	for i := 0; i <= len(lines); i++ {
		if i < len(lines) && lines[i].text != "---" {
			continue
		}
		doc := lines[start:i]
		start = i + 1
		if len(doc) == 0 {
			continue
		}
		p := &yamlParser{lines: doc}
		v, err := p.node(doc[0].indent)
		if err != nil {
			return nil, err
		}
		if p.i != len(doc) {
			return nil, fmt.Errorf("%w: line %d", errYAMLIndent, doc[p.i].no)
		}
		docs = append(docs, v)
	}
	return docs, nil
}

// yamlLines splits src into meaningful lines and gathers literal blocks.
func yamlLines(src string) ([]yamlLine, error) {
	raw := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var out []yamlLine
	for i := 0; i < len(raw); i++ {
		s := raw[i]
		body := strings.TrimLeft(s, " ")
		if strings.HasPrefix(body, "\t") {
			return nil, fmt.Errorf("%w: line %d", errYAMLTab, i+1)
		}
		indent := len(s) - len(body)
		text, err := stripComment(body)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if text == "" {
			continue
		}
		l := yamlLine{no: i + 1, indent: indent, text: text}
		if strings.HasSuffix(text, "|") || strings.HasSuffix(text, "|-") {
			keep := strings.HasSuffix(text, "|")
			if t := strings.TrimSuffix(strings.TrimSuffix(text, "-"), "|"); t == "- " || strings.HasSuffix(t, ": ") {
				var b []string
				j := i + 1
				for ; j < len(raw); j++ {
					r := raw[j]
					if strings.TrimSpace(r) != "" && len(r)-len(strings.TrimLeft(r, " ")) <= indent {
						break
					}
					b = append(b, r)
				}
				for len(b) > 0 && strings.TrimSpace(b[len(b)-1]) == "" {
					b = b[:len(b)-1]
				}
				cut := -1
				for _, r := range b {
					if strings.TrimSpace(r) == "" {
						continue
					}
					if n := len(r) - len(strings.TrimLeft(r, " ")); cut < 0 || n < cut {
						cut = n
					}
				}
				for k, r := range b {
					if len(r) >= cut && cut >= 0 {
						b[k] = r[cut:]
					} else {
						b[k] = ""
					}
				}
				lit := strings.Join(b, "\n")
				if keep && lit != "" {
					lit += "\n"
				}
				l.text = strings.TrimSuffix(strings.TrimSuffix(text, "-"), "|")
				l.text = strings.TrimRight(l.text, " ")
				l.block = &lit
				i = j - 1
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// stripComment removes a `#` comment outside quotes and trailing spaces.
func stripComment(s string) (string, error) {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '"' && c == '\\':
			i++
		case q != 0 && c == q:
			q = 0
		case q != 0:
		case c == '"' || c == '\'':
			if i == 0 || s[i-1] == ' ' || s[i-1] == '[' || s[i-1] == ',' {
				q = c
			}
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return strings.TrimRight(s[:i], " "), nil
		}
	}
	if q != 0 {
		return "", errYAMLQuote
	}
	return strings.TrimRight(s, " "), nil
}

type yamlParser struct {
	lines []yamlLine
	i     int
}

// node parses the block starting at the current line, indented by indent.
func (p *yamlParser) node(indent int) (any, error) {
	l := p.lines[p.i]
	if l.indent != indent {
		return nil, fmt.Errorf("%w: line %d", errYAMLIndent, l.no)
	}
	if l.text == "-" || strings.HasPrefix(l.text, "- ") {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) sequence(indent int) (any, error) {
	seq := []any{}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("%w: line %d", errYAMLIndent, l.no)
		}
		if !(l.text == "-" || strings.HasPrefix(l.text, "- ")) {
			break // the next key of a mapping whose value this sequence was (at the key's indentation)
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		switch {
		case rest == "" && l.block != nil:
			seq = append(seq, *l.block)
			p.i++
		case rest == "":
			p.i++
			v, err := p.child(indent)
			if err != nil {
				return nil, err
			}
			seq = append(seq, v)
		case isMapEntry(rest):
			// "- key: value": a mapping whose first key sits after the dash.
			inner := indent + (len(l.text) - len(rest))
			p.lines[p.i] = yamlLine{no: l.no, indent: inner, text: rest, block: l.block}
			v, err := p.mapping(inner)
			if err != nil {
				return nil, err
			}
			seq = append(seq, v)
		default:
			v, err := scalar(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", l.no, err)
			}
			seq = append(seq, v)
			p.i++
		}
	}
	return seq, nil
}

func (p *yamlParser) mapping(indent int) (any, error) {
	m := map[string]any{}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("%w: line %d", errYAMLIndent, l.no)
		}
		if !isMapEntry(l.text) {
			return nil, fmt.Errorf("%w: line %d: %q", errYAMLExpected, l.no, l.text)
		}
		k, v, _ := strings.Cut(l.text, ":")
		v = strings.TrimLeft(v, " ")
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%w %q: line %d", errYAMLDupKey, k, l.no)
		}
		p.i++
		switch {
		case l.block != nil && v == "":
			m[k] = *l.block
		case v == "":
			// A nested block, or a sequence at the key's own indentation.
			if p.i < len(p.lines) && (p.lines[p.i].indent > indent ||
				(p.lines[p.i].indent == indent && strings.HasPrefix(p.lines[p.i].text, "-"))) {
				n, err := p.node(p.lines[p.i].indent)
				if err != nil {
					return nil, err
				}
				m[k] = n
			} else {
				m[k] = nil
			}
		default:
			s, err := scalar(v)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", l.no, err)
			}
			m[k] = s
		}
	}
	return m, nil
}

// child parses the block after a bare "-", which must be indented deeper.
func (p *yamlParser) child(indent int) (any, error) {
	if p.i >= len(p.lines) || p.lines[p.i].indent <= indent {
		return nil, nil
	}
	return p.node(p.lines[p.i].indent)
}

// isMapEntry reports whether s starts with a plain key and ": " (or ends with ":").
func isMapEntry(s string) bool {
	k, v, ok := strings.Cut(s, ":")
	if !ok || k == "" || (v != "" && v[0] != ' ') {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_.-/", c)) {
			return false
		}
	}
	return true
}

// scalar reads a one-line value: quoted, a flow sequence, or plain.
func scalar(s string) (any, error) {
	switch s[0] {
	case '"':
		return doubleQuoted(s)
	case '\'':
		if len(s) < 2 || s[len(s)-1] != '\'' {
			return nil, errYAMLQuote
		}
		in := s[1 : len(s)-1]
		if strings.Count(strings.ReplaceAll(in, "''", ""), "'") != 0 {
			return nil, errYAMLQuote
		}
		return strings.ReplaceAll(in, "''", "'"), nil
	case '[':
		return flowSequence(s)
	case '{':
		if s == "{}" {
			return map[string]any{}, nil
		}
		return nil, fmt.Errorf("%w: flow mapping %q", errYAMLScalar, s)
	case '*', '&', '!', '%', '@', '`', '>', '|', ']', '}', ',', '?':
		return nil, fmt.Errorf("%w: %q", errYAMLScalar, s)
	}
	if strings.Contains(s, ": ") || strings.HasSuffix(s, ":") {
		return nil, fmt.Errorf("%w: %q (quote it)", errYAMLScalar, s)
	}
	return s, nil
}

func doubleQuoted(s string) (string, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if i != len(s)-1 {
				return "", errYAMLQuote
			}
			return b.String(), nil
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case '"', '\\', '/':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				return "", fmt.Errorf("%w: escape \\%c", errYAMLQuote, s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", errYAMLQuote
}

func flowSequence(s string) ([]any, error) {
	if s[len(s)-1] != ']' {
		return nil, fmt.Errorf("%w: %q", errYAMLScalar, s)
	}
	in := strings.TrimSpace(s[1 : len(s)-1])
	out := []any{}
	if in == "" {
		return out, nil
	}
	var items []string
	var q byte
	start := 0
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case q == '"' && c == '\\':
			i++
		case q != 0 && c == q:
			q = 0
		case q != 0:
		case c == '"' || c == '\'':
			q = c
		case c == '[' || c == ']' || c == '{' || c == '}':
			return nil, fmt.Errorf("%w: nested flow collection %q", errYAMLScalar, s)
		case c == ',':
			items = append(items, in[start:i])
			start = i + 1
		}
	}
	if q != 0 {
		return nil, errYAMLQuote
	}
	items = append(items, in[start:])
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			return nil, fmt.Errorf("%w: empty item in %q", errYAMLScalar, s)
		}
		v, err := scalar(it)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// TestParseYAML pins what the subset reader accepts and refuses.
func TestParseYAML(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      string // fmt %v of the first document; "" means an error is expected
	}{
		{"mapping", "a: 1\nb: x y # comment\n", "map[a:1 b:x y]"},
		{"nested", "a:\n  b:\n    c: d\n", "map[a:map[b:map[c:d]]]"},
		{"sequence of mappings", "s:\n  - name: a\n    v: \"q\\\"x\"\n  - name: b\n", `map[s:[map[name:a v:q"x] map[name:b]]]`},
		{"sequence at key indent", "s:\n- a\n- 'b''c'\nt: d\n", "map[s:[a b'c] t:d]"},
		{"key after deeper sequence", "s:\n  - a\n  t: d\n", ""},
		{"documents", "a: b\n---\nc: d\n", "map[a:b]"},
		{"flow sequence", `drop: ["ALL", x]`, "map[drop:[ALL x]]"},
		{"literal block", "a: |\n  set -eu\n  # not a comment\n\n  echo \"${X:-}\"\nk: v\n", "map[a:set -eu\n# not a comment\n\necho \"${X:-}\"\n k:v]"},
		{"literal in sequence", "args:\n  - |\n    a\n    b\n", "map[args:[a\nb\n]]"},
		{"strip literal", "a: |-\n  x\n  y\nb: z\n", "map[a:x\ny b:z]"},
		{"hash inside quotes", `u: "https://x/y.md#anchor"`, "map[u:https://x/y.md#anchor]"},
		{"empty value", "a:\nb: c\n", "map[a:<nil> b:c]"},
		{"duplicate key", "a: 1\na: 2\n", ""},
		{"tab", "a:\n\tb: c\n", ""},
		{"bad indent", "a:\n    b: c\n  d: e\n", ""},
		{"plain with colon", "a: b: c\n", ""},
		{"anchor", "a: &x b\n", ""},
		{"flow mapping", "a: {b: c}\n", ""},
		{"unterminated quote", "a: \"b\n", ""},
		{"text after quote", "a: \"b\" c\n", ""},
	} {
		docs, err := parseYAML(tc.src)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: parsed %v, want an error", tc.name, docs)
		case tc.want != "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && fmt.Sprint(docs[0]) != tc.want:
			t.Errorf("%s: got %v, want %s", tc.name, docs[0], tc.want)
		}
	}
}

func FuzzParseYAML(f *testing.F) {
	f.Add("a: 1\nb:\n  - c: |\n      x\n    d: [e, \"f\"]\n---\ng: 'h'\n")
	f.Add("s:\n- a\n- b # c\n")
	f.Fuzz(func(t *testing.T, src string) {
		docs, err := parseYAML(src)
		if err == nil {
			for _, d := range docs {
				_ = fmt.Sprint(d)
			}
		}
	})
}
