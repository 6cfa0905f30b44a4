package warden

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// wildcard is a compiled wildcard pattern: * matches any run of characters,
// ? any one character (a rune), everything else itself. Fleet-index queries
// and policy resources and actions share it.
//
// Matching takes time linear in the value, whatever the pattern: the pattern
// is cut at its stars into segments; the first must match at the start of
// the value, the last at its end, and each one between at its leftmost
// place after the one before (which is correct for * and ?, and never
// backtracks). A middle segment is found with strings.Index when it is
// literal, else with the bit-parallel Shift-And search, which reads each
// character once and costs ⌈segment length/64⌉ word operations per
// character. So a value of n characters costs O(n·⌈m/64⌉) for a pattern of m
// characters, at most 16 word operations per character for the longest
// fleet query; the classic two-pointer matcher this replaces backtracked to
// the last star on every mismatch, O(n·m).
type wildcard struct {
	star   bool // the pattern has a star; else first is all of it
	first  wildSegment
	middle []wildSegment // non-empty segments between the first and last star
	last   wildSegment
}

// A pattern is text, valid UTF-8 except for two bytes that stand for the
// wildcards: '*' and '?' themselves in policy patterns, which have no
// literal * or ?, and in fleet queries, where \* and \? are literals, 0xFE
// and 0xFF, bytes that never occur in valid UTF-8 and so never equal a
// character of a value.
type wildSegment struct {
	src   string
	any   byte
	runes int  // characters, each ? one
	plain bool // no ?
	// Shift-And tables, for middle segments with ?: bit i of a mask is
	// character i. anyMask has the ? positions; lits are the distinct
	// literal characters, sorted, and masks[i] the positions of lits[i]
	// (sparse: the words with a bit set). Their size is linear in the
	// segment's, so that a cached query costs memory in proportion to its
	// text.
	// lead and trail count the ? that begin and end a middle segment with
	// ?; core is what lies between them, found with strings.Index when it is
	// literal (coreLit), else with the tables below, which are core's.
	lead, trail int
	core        string
	coreLit     bool
	words       int
	anyMask     []uint64
	lits        []rune
	masks       [][]maskWord
}

type maskWord struct {
	word int
	bits uint64
}

// fleetStar and fleetAny are the wildcards * and ? in a fleet query's
// compiled pattern.
const (
	fleetStar = 0xFE
	fleetAny  = 0xFF
)

// compileWildcard compiles a pattern in which the byte star stands for *
// and any for ? into w.
func compileWildcard(w *wildcard, pattern string, star, any byte) {
	i := strings.IndexByte(pattern, star)
	if i < 0 {
		w.first = newWildSegment(pattern, any, false)
		return
	}
	w.star = true
	w.first = newWildSegment(pattern[:i], any, false)
	j := strings.LastIndexByte(pattern, star)
	w.last = newWildSegment(pattern[j+1:], any, false)
	for rest := pattern[i+1 : max(i+1, j)]; rest != ""; {
		seg := rest
		if k := strings.IndexByte(rest, star); k >= 0 {
			seg, rest = rest[:k], rest[k+1:]
		} else {
			rest = ""
		}
		if seg != "" {
			w.middle = append(w.middle, newWildSegment(seg, any, true))
		}
	}
}

// compileWildcardString compiles a policy pattern, in which every * and ?
// is a wildcard.
func compileWildcardString(w *wildcard, pattern string) {
	if !utf8.ValidString(pattern) {
		pattern = string([]rune(pattern))
	}
	compileWildcard(w, pattern, '*', '?')
}

func newWildSegment(src string, any byte, search bool) wildSegment {
	g := wildSegment{src: src, any: any, runes: utf8.RuneCountInString(src)}
	g.plain = strings.IndexByte(src, any) < 0
	if g.plain || !search {
		return g
	}
	core := src
	for core != "" && core[0] == any {
		core = core[1:]
		g.lead++
	}
	for core != "" && core[len(core)-1] == any {
		core = core[:len(core)-1]
		g.trail++
	}
	g.core = core
	g.coreLit = strings.IndexByte(core, any) < 0
	if g.coreLit {
		return g
	}
	src = core
	g.words = (utf8.RuneCountInString(core) + 63) / 64
	g.anyMask = make([]uint64, g.words)
	for i, j := 0, 0; j < len(src); i++ {
		word, bit := i/64, uint64(1)<<(i%64)
		if src[j] == any {
			g.anyMask[word] |= bit
			j++
			continue
		}
		r, size := utf8.DecodeRuneInString(src[j:])
		j += size
		k, found := slices.BinarySearch(g.lits, r)
		if !found {
			g.lits = slices.Insert(g.lits, k, r)
			g.masks = slices.Insert(g.masks, k, nil)
		}
		m := g.masks[k]
		if n := len(m); n > 0 && m[n-1].word == word {
			m[n-1].bits |= bit
		} else {
			m = append(m, maskWord{word, bit})
		}
		g.masks[k] = m
	}
	return g
}

// mask is the sparse mask of character r's positions in the segment.
func (g *wildSegment) mask(r rune) []maskWord {
	if len(g.lits) <= 8 {
		for i, l := range g.lits {
			if l == r {
				return g.masks[i]
			}
		}
		return nil
	}
	if i, found := slices.BinarySearch(g.lits, r); found {
		return g.masks[i]
	}
	return nil
}

// match reports whether s matches the whole pattern.
func (w *wildcard) match(s string) bool {
	ok, _ := w.matchSteps(s)
	return ok
}

// matchSteps is match that also counts its steps (characters compared or
// scanned, and Shift-And word operations), for tests of its cost.
func (w *wildcard) matchSteps(s string) (bool, int) {
	if !utf8.ValidString(s) {
		// One U+FFFD per invalid byte, as []rune(s) and range count them,
		// so that walking back from the end agrees with walking forward.
		s = string([]rune(s))
	}
	steps := 0
	end, ok := w.first.matchAt(s, 0, &steps)
	if !ok {
		return false, steps
	}
	if !w.star {
		return end == len(s), steps
	}
	// The last segment takes the last characters, matched from the end so
	// that a mismatch there costs one comparison.
	tail, ok := w.last.matchBefore(s, end, &steps)
	if !ok {
		return false, steps
	}
	for i := range w.middle {
		var found bool
		if end, found = w.middle[i].find(s[:tail], end, &steps); !found {
			return false, steps
		}
	}
	return true, steps
}

// matchAt matches the segment at byte offset i of s and returns the offset
// after it.
func (g *wildSegment) matchAt(s string, i int, steps *int) (int, bool) {
	if g.plain {
		*steps += len(g.src)
		if strings.HasPrefix(s[i:], g.src) {
			return i + len(g.src), true
		}
		return 0, false
	}
	for j := 0; j < len(g.src); {
		*steps++
		if i >= len(s) {
			return 0, false
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if g.src[j] == g.any {
			j++
			continue
		}
		p, psize := utf8.DecodeRuneInString(g.src[j:])
		j += psize
		if p != r {
			return 0, false
		}
	}
	return i, true
}

// matchBefore matches the segment at the end of s, not before byte offset
// lo, and returns the offset where it starts.
func (g *wildSegment) matchBefore(s string, lo int, steps *int) (int, bool) {
	if g.plain {
		*steps += len(g.src)
		if len(s)-len(g.src) < lo || !strings.HasSuffix(s, g.src) {
			return 0, false
		}
		return len(s) - len(g.src), true
	}
	i := len(s)
	for j := len(g.src); j > 0; {
		*steps++
		if i <= lo {
			return 0, false
		}
		r, size := utf8.DecodeLastRuneInString(s[lo:i])
		i -= size
		if g.src[j-1] == g.any {
			j--
			continue
		}
		p, psize := utf8.DecodeLastRuneInString(g.src[:j])
		j -= psize
		if p != r {
			return 0, false
		}
	}
	return i, true
}

// find finds the segment's leftmost occurrence in s at or after byte
// offset from and returns the offset after it.
func (g *wildSegment) find(s string, from int, steps *int) (int, bool) {
	if g.plain {
		*steps += len(s) - from
		i := strings.Index(s[from:], g.src)
		if i < 0 {
			return 0, false
		}
		return from + i + len(g.src), true
	}
	// ? before the core: it starts lead characters on at least.
	from, ok := skipRunes(s, from, g.lead, steps)
	if !ok {
		return 0, false
	}
	var end int
	switch {
	case g.core == "":
		end = from
	case g.coreLit:
		*steps += len(s) - from
		i := strings.Index(s[from:], g.core)
		if i < 0 {
			return 0, false
		}
		end = from + i + len(g.core)
	default:
		if end, ok = g.shiftAnd(s, from, steps); !ok {
			return 0, false
		}
	}
	// ? after the core: the leftmost core leaves the most characters.
	return skipRunes(s, end, g.trail, steps)
}

// skipRunes returns the offset n characters after i.
func skipRunes(s string, i, n int, steps *int) (int, bool) {
	for range n {
		if i >= len(s) {
			return 0, false
		}
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
		}
		*steps++
	}
	return i, true
}

// shiftAnd finds the core (which begins and ends with a literal) with the
// Shift-And search. While no partial match is alive, it skips with
// strings.IndexRune to the next place the core's first character occurs.
func (g *wildSegment) shiftAnd(s string, from int, steps *int) (int, bool) {
	first, _ := utf8.DecodeRuneInString(g.core)
	runes := utf8.RuneCountInString(g.core)
	done, lastWord := uint64(1)<<((runes-1)%64), g.words-1
	d := make([]uint64, g.words)
	shifted := make([]uint64, g.words)
	anyMask := g.anyMask
	alive := false
	for i := from; i < len(s); {
		if !alive {
			j := strings.IndexRune(s[i:], first)
			if j < 0 {
				*steps += len(s) - i
				return 0, false
			}
			*steps += j
			i += j
		}
		r := rune(s[i])
		if r < utf8.RuneSelf {
			i++
		} else {
			var size int
			r, size = utf8.DecodeRuneInString(s[i:])
			i += size
		}
		carry := uint64(1)
		var live uint64
		for k, x := range d {
			y := x<<1 | carry
			carry = x >> 63
			shifted[k] = y
			d[k] = y & anyMask[k]
			live |= d[k]
		}
		lits := g.mask(r)
		for _, m := range lits {
			v := shifted[m.word] & m.bits
			d[m.word] |= v
			live |= v
		}
		*steps += g.words + len(lits)
		if d[lastWord]&done != 0 {
			return i, true
		}
		alive = live != 0
	}
	return 0, false
}
