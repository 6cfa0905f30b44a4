package warden

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fleet-indexing query limits, from the AWS IoT "Query syntax" page. With
// MaxQueryStringLength they bound what a query costs a thing: at most 12
// terms over 1000 characters, each matched in time linear in the value (see
// wildcard).
const (
	// MaxQueryTerms is the most terms one query may hold.
	MaxQueryTerms = 12
	// maxLeadingWildcardQuery is the longest query that may hold a term
	// starting with a wildcard; only one such term is allowed.
	maxLeadingWildcardQuery = 100
	// maxQueryNesting bounds parentheses so a hostile query cannot make the
	// recursive parser deep.
	maxQueryNesting = 32
)

// FleetThing is what a fleet-index query sees of a thing: the registry
// fields Warden indexes.
type FleetThing struct {
	Name       string
	ID         string
	TypeName   string
	Attributes map[string]string
}

// FleetQuery is a parsed fleet-indexing query (query version 2017-09-30) over
// the registry fields thingName, thingId, thingTypeName and
// attributes.<name>. It supports what AWS documents for those fields: field
// terms with exact values, quoted phrases and * / ? wildcards; ranges
// [a TO b] with inclusive [] and exclusive {} bounds and * for an open end;
// comparisons field>v, >=, <, <=; AND (&&), OR (||), NOT (!, -), + as a
// no-op, parentheses, field grouping field:(a OR b), implicit AND between
// terms, and a lone * matching every thing. Values match case-insensitively,
// as AWS search does; field names are case-sensitive. A range or comparison
// whose bounds are numbers compares numerically and matches only numeric
// values; otherwise it compares strings.
type FleetQuery struct {
	text string
	root queryNode
}

// String is the query as written.
func (q *FleetQuery) String() string { return q.text }

// Match reports whether thing t is in the query's result set.
func (q *FleetQuery) Match(t *FleetThing) bool { return q.root.match(t) }

// ParseFleetQuery parses a query string. Anything it does not support is an
// InvalidQueryException whose message says what and where.
func ParseFleetQuery(query string) (*FleetQuery, error) {
	if n := utf8.RuneCountInString(query); n > MaxQueryStringLength {
		return nil, Errorf(CodeInvalidQuery, "The query string is %d characters long; a query can be at most %d.", n, MaxQueryStringLength)
	}
	p := &queryParser{src: query}
	p.skipSpace()
	if p.eof() {
		return nil, Errorf(CodeInvalidQuery, "The query string is empty.")
	}
	root, err := p.parseOr("")
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		return nil, p.fail("unexpected %q", p.peekRune())
	}
	if p.terms > MaxQueryTerms {
		return nil, Errorf(CodeInvalidQuery, "Query string '%s' has %d terms; a query can have at most %d.", shorten(query), p.terms, MaxQueryTerms)
	}
	if p.leading > 1 {
		return nil, Errorf(CodeInvalidQuery, "Query string '%s' has %d terms that start with a wildcard; at most one is allowed.", shorten(query), p.leading)
	}
	if p.leading == 1 && utf8.RuneCountInString(query) > maxLeadingWildcardQuery {
		return nil, Errorf(CodeInvalidQuery, "A query with a leading wildcard can be at most %d characters long.", maxLeadingWildcardQuery)
	}
	return &FleetQuery{text: query, root: root}, nil
}

// --- evaluation ---

type queryNode interface {
	match(t *FleetThing) bool
}

type andNode []queryNode

func (n andNode) match(t *FleetThing) bool {
	for _, c := range n {
		if !c.match(t) {
			return false
		}
	}
	return true
}

type orNode []queryNode

func (n orNode) match(t *FleetThing) bool {
	for _, c := range n {
		if c.match(t) {
			return true
		}
	}
	return false
}

type notNode struct{ n queryNode }

func (n notNode) match(t *FleetThing) bool { return !n.n.match(t) }

type allNode struct{}

func (allNode) match(*FleetThing) bool { return true }

// fieldValue returns the value of an indexed field; ok is false when the
// thing does not have it.
func (t *FleetThing) fieldValue(field string) (string, bool) {
	switch field {
	case "thingName":
		return t.Name, true
	case "thingId":
		return t.ID, t.ID != ""
	case "thingTypeName":
		return t.TypeName, t.TypeName != ""
	}
	if name, ok := strings.CutPrefix(field, "attributes."); ok {
		v, ok := t.Attributes[name]
		return v, ok
	}
	return "", false
}

// globNode matches a value against a pattern of literal runes and the
// wildcards * (any run) and ? (one rune), compiled once when the query is
// parsed. A pattern without wildcards is an exact, case-insensitive match.
type globNode struct {
	field   string
	pattern []globElem
	glob    *wildcard
}

type globElem struct {
	r    rune // lower-cased literal
	kind byte // 0 literal, '*' or '?'
}

func newGlobNode(field string, pattern []globElem) globNode {
	return globNode{field: field, pattern: pattern, glob: compileGlob(pattern)}
}

// compileGlob compiles a parsed pattern, its wildcards written as the
// bytes fleetStar and fleetAny.
func compileGlob(p []globElem) *wildcard {
	b := make([]byte, 0, len(p))
	for _, e := range p {
		switch e.kind {
		case '*':
			b = append(b, fleetStar)
		case '?':
			b = append(b, fleetAny)
		default:
			b = utf8.AppendRune(b, e.r)
		}
	}
	w := new(wildcard)
	compileWildcard(w, string(b), fleetStar, fleetAny)
	return w
}

func (n globNode) match(t *FleetThing) bool {
	v, ok := t.fieldValue(n.field)
	if !ok {
		return false
	}
	return n.glob.match(strings.ToLower(v))
}

// bound is one end of a range; open means unbounded (*).
type bound struct {
	open   bool
	text   string // lower-cased
	num    float64
	isNum  bool
	inclus bool
}

// rangeNode matches values between lo and hi.
type rangeNode struct {
	field   string
	lo, hi  bound
	numeric bool // every closed bound is a number
}

func newRangeNode(field string, lo, hi bound) rangeNode {
	numeric := (lo.open || lo.isNum) && (hi.open || hi.isNum)
	return rangeNode{field: field, lo: lo, hi: hi, numeric: numeric}
}

func (n rangeNode) match(t *FleetThing) bool {
	v, ok := t.fieldValue(n.field)
	if !ok {
		return false
	}
	var cmpLo, cmpHi int
	if n.numeric {
		x, ok := parseQueryNumber(v)
		if !ok {
			return false
		}
		cmpLo, cmpHi = compareFloat(x, n.lo.num), compareFloat(x, n.hi.num)
	} else {
		lv := strings.ToLower(v)
		cmpLo, cmpHi = strings.Compare(lv, n.lo.text), strings.Compare(lv, n.hi.text)
	}
	if !n.lo.open && (cmpLo < 0 || cmpLo == 0 && !n.lo.inclus) {
		return false
	}
	if !n.hi.open && (cmpHi > 0 || cmpHi == 0 && !n.hi.inclus) {
		return false
	}
	return true
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseQueryNumber accepts plain decimal numbers only (an optional sign,
// digits, an optional fraction and exponent), not Go's hex, Inf or NaN.
func parseQueryNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// --- parsing ---

// queryParser is a recursive-descent parser:
//
//	or      = and { ("OR" | "||") and }
//	and     = unary { ["AND" | "&&"] unary }
//	unary   = ("NOT" | "!" | "-" | "+") unary | primary
//	primary = "(" or ")" | clause
//	clause  = field ":" "(" or ")"          (bare values inside take field)
//	        | field ":" value | field op bound | "*" | value (inside a group)
//	value   = phrase | range | token
//	range   = ("[" | "{") bound "TO" bound ("]" | "}")
type queryParser struct {
	src     string
	pos     int
	terms   int
	leading int
	depth   int
}

func (p *queryParser) eof() bool { return p.pos >= len(p.src) }

func (p *queryParser) peekRune() rune {
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func (p *queryParser) skipSpace() {
	for !p.eof() {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		p.pos += size
	}
}

func (p *queryParser) fail(format string, args ...any) error {
	return Errorf(CodeInvalidQuery, "Invalid query string '%s' at character %d: %s.",
		shorten(p.src), utf8.RuneCountInString(p.src[:min(p.pos, len(p.src))])+1, fmt.Sprintf(format, args...))
}

// keyword reports whether the input continues with operator word k as a
// whole word, and consumes it if so.
func (p *queryParser) keyword(k string) bool {
	if !strings.HasPrefix(p.src[p.pos:], k) {
		return false
	}
	end := p.pos + len(k)
	if k != "&&" && k != "||" && end < len(p.src) {
		r, _ := utf8.DecodeRuneInString(p.src[end:])
		if !unicode.IsSpace(r) && r != '(' {
			return false
		}
	}
	p.pos = end
	return true
}

// atKeyword is keyword without consuming.
func (p *queryParser) atKeyword(k string) bool {
	save := p.pos
	ok := p.keyword(k)
	p.pos = save
	return ok
}

func (p *queryParser) parseOr(field string) (queryNode, error) {
	another := func() bool { return p.keyword("OR") || p.keyword("||") }
	return p.parseJoined(field, p.parseAnd, another, func(n []queryNode) queryNode { return orNode(n) })
}

func (p *queryParser) parseAnd(field string) (queryNode, error) {
	another := func() bool {
		if p.eof() || p.src[p.pos] == ')' || p.atKeyword("OR") || p.atKeyword("||") {
			return false
		}
		// AND is explicit or implied by juxtaposition.
		if !p.keyword("AND") {
			p.keyword("&&")
		}
		return true
	}
	return p.parseJoined(field, p.parseUnary, another, func(n []queryNode) queryNode { return andNode(n) })
}

// parseJoined parses one or more operands with operand for as long as
// another, which consumes the operator between them, says one follows; join
// makes the node of two or more.
func (p *queryParser) parseJoined(field string, operand func(string) (queryNode, error), another func() bool, join func([]queryNode) queryNode) (queryNode, error) {
	first, err := operand(field)
	if err != nil {
		return nil, err
	}
	nodes := []queryNode{first}
	for {
		p.skipSpace()
		if !another() {
			break
		}
		n, err := operand(field)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return join(nodes), nil
}

func (p *queryParser) parseUnary(field string) (queryNode, error) {
	p.skipSpace()
	switch {
	case p.keyword("NOT"), !p.eof() && (p.src[p.pos] == '!' || p.src[p.pos] == '-'):
		if !p.eof() && (p.src[p.pos] == '!' || p.src[p.pos] == '-') {
			p.pos++
		}
		if p.depth++; p.depth > maxQueryNesting {
			return nil, p.fail("operators are nested more than %d deep", maxQueryNesting)
		}
		n, err := p.parseUnary(field)
		p.depth--
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case !p.eof() && p.src[p.pos] == '+':
		p.pos++
		return p.parseUnary(field)
	}
	return p.parsePrimary(field)
}

func (p *queryParser) parsePrimary(field string) (queryNode, error) {
	p.skipSpace()
	if p.eof() {
		return nil, p.fail("expected a term but the query ends")
	}
	for _, op := range []string{"AND", "OR", "&&", "||"} {
		if p.atKeyword(op) {
			return nil, p.fail("expected a term before %s", op)
		}
	}
	switch p.src[p.pos] {
	case '(':
		return p.parseGroup(field)
	case ')':
		return nil, p.fail("unexpected ')'")
	}
	return p.parseClause(field)
}

// parseGroup parses "(" or ")" at the current position.
func (p *queryParser) parseGroup(field string) (queryNode, error) {
	if p.depth++; p.depth > maxQueryNesting {
		return nil, p.fail("parentheses are nested more than %d deep", maxQueryNesting)
	}
	p.pos++ // (
	n, err := p.parseOr(field)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || p.src[p.pos] != ')' {
		return nil, p.fail("missing ')'")
	}
	p.pos++
	p.depth--
	return n, nil
}

// isFieldChar accepts the characters of field names: attribute names
// ([a-zA-Z0-9_.,@/:#-]) without ':', which separates the field from its value.
func isFieldChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.,@/#-", c) >= 0
}

// supportedFields is what the error for an unknown field lists.
const supportedFields = "thingName, thingId, thingTypeName and attributes.<name>"

func checkField(p *queryParser, field string, start int) error {
	switch field {
	case "thingName", "thingId", "thingTypeName":
		return nil
	}
	if name, ok := strings.CutPrefix(field, "attributes."); ok && name != "" {
		return nil
	}
	save := p.pos
	p.pos = start
	err := p.fail("field '%s' is not supported: Warden's AWS_Things index holds the registry fields %s", field, supportedFields)
	p.pos = save
	return err
}

func (p *queryParser) parseClause(defField string) (queryNode, error) {
	start := p.pos
	end := p.pos
	for end < len(p.src) && isFieldChar(p.src[end]) {
		end++
	}
	if end > start && end < len(p.src) && strings.IndexByte(":<>", p.src[end]) >= 0 {
		field := p.src[start:end]
		if err := checkField(p, field, start); err != nil {
			return nil, err
		}
		p.pos = end
		switch p.src[p.pos] {
		case ':':
			p.pos++
			if !p.eof() && p.src[p.pos] == '(' {
				return p.parseGroup(field)
			}
			return p.parseValue(field)
		default:
			return p.parseComparison(field)
		}
	}
	if end > start && end < len(p.src) && p.src[end] == '=' {
		p.pos = end
		return nil, p.fail("'=' is not an operator; write field:value to match a value or field>=value to compare")
	}
	if defField == "" {
		if p.src[p.pos] == '*' && (p.pos+1 == len(p.src) || isTermEnd(p.src[p.pos+1])) {
			p.pos++
			p.terms++
			return allNode{}, nil
		}
		tok := p.src[p.pos:]
		if i := strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || r == '(' || r == ')' }); i >= 0 {
			tok = tok[:i]
		}
		return nil, p.fail("term '%s' names no field; write field:value with one of the fields %s", tok, supportedFields)
	}
	return p.parseValue(defField)
}

func isTermEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ')'
}

// parseValue parses what follows "field:" (or a bare value inside a field
// group): a quoted phrase, a range or a token with wildcards.
func (p *queryParser) parseValue(field string) (queryNode, error) {
	if p.eof() {
		return nil, p.fail("missing value after '%s:'", field)
	}
	switch p.src[p.pos] {
	case '[', '{':
		return p.parseRange(field)
	case '"':
		text, err := p.parsePhrase()
		if err != nil {
			return nil, err
		}
		p.terms++
		return newGlobNode(field, literalPattern(text)), nil
	}
	pattern, err := p.parseToken(field)
	if err != nil {
		return nil, err
	}
	p.terms++
	if len(pattern) > 1 && pattern[0].kind != 0 {
		p.leading++
	}
	return newGlobNode(field, pattern), nil
}

func literalPattern(text string) []globElem {
	var out []globElem
	for _, r := range strings.ToLower(text) {
		out = append(out, globElem{r: r})
	}
	return out
}

// parseToken reads an unquoted value up to white space or a parenthesis.
// A backslash makes the next character literal.
func (p *queryParser) parseToken(field string) ([]globElem, error) {
	var out []globElem
	for !p.eof() {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		if unicode.IsSpace(r) || r == '(' || r == ')' {
			break
		}
		p.pos += size
		switch r {
		case '\\':
			if p.eof() {
				return nil, p.fail("'\\' at the end of the query escapes nothing")
			}
			e, size := utf8.DecodeRuneInString(p.src[p.pos:])
			p.pos += size
			out = append(out, globElem{r: unicode.ToLower(e)})
		case '*', '?':
			out = append(out, globElem{kind: byte(r)})
		case '"', '[', ']', '{', '}':
			p.pos -= size
			return nil, p.fail("unexpected %q inside a value; escape it with '\\'", r)
		default:
			out = append(out, globElem{r: unicode.ToLower(r)})
		}
	}
	if len(out) == 0 {
		return nil, p.fail("missing value after '%s:'", field)
	}
	return out, nil
}

// parsePhrase reads a "quoted" value; its characters are all literal.
func (p *queryParser) parsePhrase() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for !p.eof() {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		p.pos += size
		switch r {
		case '"':
			return b.String(), nil
		case '\\':
			if p.eof() {
				return "", p.fail("unterminated quoted value")
			}
			e, size := utf8.DecodeRuneInString(p.src[p.pos:])
			p.pos += size
			b.WriteRune(e)
		default:
			b.WriteRune(r)
		}
	}
	return "", p.fail("unterminated quoted value")
}

// parseBound reads one end of a range or the operand of a comparison; stop
// lists the characters that end a bare bound.
func (p *queryParser) parseBound(stop string) (bound, error) {
	if p.eof() {
		return bound{}, p.fail("missing bound")
	}
	var text string
	if p.src[p.pos] == '"' {
		t, err := p.parsePhrase()
		if err != nil {
			return bound{}, err
		}
		text = t
	} else {
		var b strings.Builder
		for !p.eof() {
			r, size := utf8.DecodeRuneInString(p.src[p.pos:])
			if unicode.IsSpace(r) || strings.ContainsRune(stop, r) {
				break
			}
			p.pos += size
			if r == '\\' {
				if p.eof() {
					return bound{}, p.fail("'\\' at the end of the query escapes nothing")
				}
				r, size = utf8.DecodeRuneInString(p.src[p.pos:])
				p.pos += size
			} else if r == '*' && b.Len() == 0 && (p.eof() || strings.ContainsRune(stop, p.peekRune()) || unicode.IsSpace(p.peekRune())) {
				return bound{open: true}, nil
			} else if r == '*' || r == '?' {
				return bound{}, p.fail("wildcards cannot be used in a range or comparison")
			} else if r == '<' || r == '>' || r == '=' {
				p.pos -= size
				return bound{}, p.fail("unexpected %q in a bound; escape it with '\\'", r)
			}
			b.WriteRune(r)
		}
		if b.Len() == 0 {
			return bound{}, p.fail("missing bound")
		}
		text = b.String()
	}
	num, isNum := parseQueryNumber(text)
	return bound{text: strings.ToLower(text), num: num, isNum: isNum}, nil
}

func (p *queryParser) parseRange(field string) (queryNode, error) {
	loIncl := p.src[p.pos] == '['
	p.pos++
	p.skipSpace()
	lo, err := p.parseBound("]}")
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.keyword("TO") {
		return nil, p.fail("expected TO in the range")
	}
	p.skipSpace()
	hi, err := p.parseBound("]}")
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || p.src[p.pos] != ']' && p.src[p.pos] != '}' {
		return nil, p.fail("missing ']' or '}' at the end of the range")
	}
	hiIncl := p.src[p.pos] == ']'
	p.pos++
	lo.inclus, hi.inclus = loIncl, hiIncl
	p.terms++
	return newRangeNode(field, lo, hi), nil
}

// parseComparison parses field>v, field>=v, field<v or field<=v.
func (p *queryParser) parseComparison(field string) (queryNode, error) {
	op := p.src[p.pos : p.pos+1]
	p.pos++
	if !p.eof() && p.src[p.pos] == '=' {
		op += "="
		p.pos++
	}
	if p.eof() || isTermEnd(p.src[p.pos]) {
		return nil, p.fail("missing value after '%s%s'", field, op)
	}
	b, err := p.parseBound("()")
	if err != nil {
		return nil, err
	}
	if b.open {
		return nil, p.fail("'%s%s*' compares with nothing; use %s:* to match any value", field, op, field)
	}
	p.terms++
	open := bound{open: true}
	b.inclus = strings.HasSuffix(op, "=")
	if op[0] == '>' {
		return newRangeNode(field, b, open), nil
	}
	return newRangeNode(field, open, b), nil
}

// CheckDynamicGroupQuery checks the fleet-index members of a dynamic group
// request, each nil when absent: DefaultIndexName is the only index,
// DefaultQueryVersion the only query version, and the query must parse.
func CheckDynamicGroupQuery(indexName, queryString, queryVersion *string) error {
	if indexName != nil && *indexName != DefaultIndexName {
		return Errorf(CodeResourceNotFound, "Index %s does not exist; the only index is %s.", *indexName, DefaultIndexName)
	}
	if queryVersion != nil && *queryVersion != DefaultQueryVersion {
		return Errorf(CodeInvalidRequest, "Query version %s is not supported; the only query version is %s.",
			*queryVersion, DefaultQueryVersion)
	}
	if queryString != nil {
		if _, err := ParseFleetQuery(*queryString); err != nil {
			return err
		}
	}
	return nil
}
