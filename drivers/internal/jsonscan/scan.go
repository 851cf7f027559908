// Package jsonscan is a small, strict, allocation-free JSON scanner for the device drivers.
//
// It reads one document front to back without building a tree: the caller walks objects key
// by key and takes the values it wants as strings, numbers or literals, skipping the rest.
// Every value it reads or skips is checked against RFC 8259, so a document the caller walked
// to the end and closed with Finish is valid JSON. It is stricter than encoding/json in two
// ways: strings must be valid UTF-8 (encoding/json replaces bad bytes with U+FFFD), and values
// nest at most MaxDepth deep. Where both accept a document, both read the same values from it.
package jsonscan

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// MaxDepth is how deeply arrays and objects may nest in a document.
const MaxDepth = 32

// Kind is the kind of the next value, from its first byte.
type Kind uint8

// Value kinds.
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Object
	Array
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "boolean"
	case Number:
		return "number"
	case String:
		return "string"
	case Object:
		return "object"
	case Array:
		return "array"
	}
	return "invalid"
}

// Scanner reads one JSON document. The zero value is ready after Reset. Byte slices it returns
// point into the document or into the scanner's scratch space; they are valid until the next
// call that reads a value.
type Scanner struct {
	buf     []byte
	pos     int
	depth   int
	err     error
	scratch []byte // unescaped string values
	keybuf  []byte // unescaped keys
}

// Reset starts scanning b.
func (s *Scanner) Reset(b []byte) {
	s.buf, s.pos, s.depth, s.err = b, 0, 0, nil
}

// Err returns the first syntax error met, or nil.
func (s *Scanner) Err() error { return s.err }

// Pos returns the offset of the next unread byte.
func (s *Scanner) Pos() int { return s.pos }

// Error is a syntax error at a byte offset.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string {
	return "jsonscan: " + e.Msg + " at offset " + strconv.Itoa(e.Offset)
}

func (s *Scanner) fail(msg string) {
	if s.err == nil {
		s.err = &Error{Offset: s.pos, Msg: msg}
	}
}

func (s *Scanner) skipWS() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// Peek returns the kind of the next value without reading it. At the end of the input, after
// an error, or before a byte no value starts with, it returns Invalid.
func (s *Scanner) Peek() Kind {
	if s.err != nil {
		return Invalid
	}
	s.skipWS()
	if s.pos >= len(s.buf) {
		return Invalid
	}
	switch c := s.buf[s.pos]; c {
	case '{':
		return Object
	case '[':
		return Array
	case '"':
		return String
	case 't', 'f':
		return Bool
	case 'n':
		return Null
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return Number
		}
	}
	return Invalid
}

// Finish checks that only white space follows the document.
func (s *Scanner) Finish() error {
	if s.err != nil {
		return s.err
	}
	s.skipWS()
	if s.pos != len(s.buf) {
		s.fail("data after the document")
	}
	return s.err
}

// Obj iterates over the members of an object.
type Obj struct {
	s *Scanner
	n int
}

// Object reads the opening brace of an object. It fails (and returns false) if the next value
// is not an object.
func (s *Scanner) Object() (Obj, bool) {
	if s.Peek() != Object {
		s.fail("want an object")
		return Obj{}, false
	}
	s.depth++
	if s.depth > MaxDepth {
		s.fail("nested too deeply")
		return Obj{}, false
	}
	s.pos++
	return Obj{s: s}, true
}

// Next reads the next member's key and the colon after it, leaving its value to be read. It
// returns false at the closing brace or on an error. The key is valid until the next call.
func (o *Obj) Next() ([]byte, bool) {
	s := o.s
	if s == nil || s.err != nil {
		return nil, false
	}
	s.skipWS()
	if s.pos >= len(s.buf) {
		s.fail("unterminated object")
		return nil, false
	}
	c := s.buf[s.pos]
	if c == '}' {
		s.pos++
		s.depth--
		o.s = nil
		return nil, false
	}
	if o.n > 0 {
		if c != ',' {
			s.fail("want ',' or '}' after an object member")
			return nil, false
		}
		s.pos++
		s.skipWS()
		if s.pos >= len(s.buf) {
			s.fail("unterminated object")
			return nil, false
		}
	}
	if s.buf[s.pos] != '"' {
		s.fail("want a string key")
		return nil, false
	}
	o.n++
	key, ok := s.readString(&s.keybuf)
	if !ok {
		return nil, false
	}
	s.skipWS()
	if s.pos >= len(s.buf) || s.buf[s.pos] != ':' {
		s.fail("want ':' after an object key")
		return nil, false
	}
	s.pos++
	return key, true
}

// Str reads a string value and returns its unescaped bytes.
func (s *Scanner) Str() ([]byte, bool) {
	if s.Peek() != String {
		s.fail("want a string")
		return nil, false
	}
	return s.readString(&s.scratch)
}

// Num reads a number and returns its text, checked against the JSON number grammar.
func (s *Scanner) Num() ([]byte, bool) {
	if s.Peek() != Number {
		s.fail("want a number")
		return nil, false
	}
	start := s.pos
	i := s.pos
	b := s.buf
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		s.fail("bad number")
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.pos = i
			s.fail("bad number fraction")
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.pos = i
			s.fail("bad number exponent")
			return nil, false
		}
	}
	s.pos = i
	return b[start:i], true
}

// Bool reads true or false.
func (s *Scanner) Bool() (v, ok bool) {
	if s.Peek() != Bool {
		s.fail("want true or false")
		return false, false
	}
	if s.lit("true") {
		return true, true
	}
	if s.lit("false") {
		return false, true
	}
	s.fail("bad literal")
	return false, false
}

// Null reads null.
func (s *Scanner) Null() bool {
	if s.Peek() != Null || !s.lit("null") {
		s.fail("want null")
		return false
	}
	return true
}

func (s *Scanner) lit(word string) bool {
	if len(s.buf)-s.pos >= len(word) && string(s.buf[s.pos:s.pos+len(word)]) == word {
		s.pos += len(word)
		return true
	}
	return false
}

// Skip reads and checks one value of any kind.
func (s *Scanner) Skip() bool {
	switch s.Peek() {
	case Null:
		return s.Null()
	case Bool:
		_, ok := s.Bool()
		return ok
	case Number:
		_, ok := s.Num()
		return ok
	case String:
		return s.skipString()
	case Object:
		o, ok := s.Object()
		if !ok {
			return false
		}
		for {
			if _, ok := o.Next(); !ok {
				return s.err == nil
			}
			if !s.Skip() {
				return false
			}
		}
	case Array:
		s.depth++
		if s.depth > MaxDepth {
			s.fail("nested too deeply")
			return false
		}
		s.pos++
		for n := 0; ; n++ {
			s.skipWS()
			if s.pos < len(s.buf) && s.buf[s.pos] == ']' {
				if n > 0 {
					s.fail("want a value after ','")
					return false
				}
				s.pos++
				s.depth--
				return true
			}
			if !s.Skip() {
				return false
			}
			s.skipWS()
			if s.pos >= len(s.buf) {
				s.fail("unterminated array")
				return false
			}
			switch s.buf[s.pos] {
			case ',':
				s.pos++
			case ']':
				s.pos++
				s.depth--
				return true
			default:
				s.fail("want ',' or ']' after an array element")
				return false
			}
		}
	}
	s.fail("want a value")
	return false
}

// skipString checks a string without unescaping it.
func (s *Scanner) skipString() bool {
	_, ok := s.readString(nil)
	return ok
}

// readString reads the string at s.pos (which is '"'). Without escapes it returns a slice of
// the input; with escapes it unescapes into *dst (reused). dst nil only checks.
func (s *Scanner) readString(dst *[]byte) ([]byte, bool) {
	b := s.buf
	start := s.pos + 1
	i := start
	for i < len(b) {
		c := b[i]
		if c == '"' {
			s.pos = i + 1
			return b[start:i], true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return s.readStringSlow(dst, start, i)
		}
		i++
	}
	s.pos = i
	s.fail("unterminated string")
	return nil, false
}

func (s *Scanner) readStringSlow(dst *[]byte, start, i int) ([]byte, bool) {
	b := s.buf
	var out []byte
	escaped := false
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.pos = i + 1
			if !escaped {
				return b[start:i], true
			}
			if dst != nil {
				*dst = out
			}
			return out, true
		case c < 0x20:
			s.pos = i
			s.fail("control character in string")
			return nil, false
		case c == '\\':
			if !escaped {
				escaped = true
				if dst != nil {
					out = append((*dst)[:0], b[start:i]...)
				}
			}
			if i+1 >= len(b) {
				s.pos = i
				s.fail("unterminated string")
				return nil, false
			}
			e := b[i+1]
			i += 2
			var r rune
			switch e {
			case '"', '\\', '/':
				r = rune(e)
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				r1, ok := hex4(b, i)
				if !ok {
					s.pos = i
					s.fail("bad \\u escape")
					return nil, false
				}
				i += 4
				r = r1
				if r1 >= 0xD800 && r1 < 0xDC00 {
					// A high surrogate pairs with a following \u low surrogate; alone it is
					// U+FFFD, as in encoding/json.
					r = utf8.RuneError
					if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if r2, ok := hex4(b, i+2); ok && r2 >= 0xDC00 && r2 < 0xE000 {
							r = (r1-0xD800)<<10 | (r2 - 0xDC00) + 0x10000
							i += 6
						}
					}
				} else if r1 >= 0xDC00 && r1 < 0xE000 {
					r = utf8.RuneError
				}
			default:
				s.pos = i - 1
				s.fail("bad escape in string")
				return nil, false
			}
			if dst != nil {
				out = utf8.AppendRune(out, r)
			}
		case c < utf8.RuneSelf:
			if escaped && dst != nil {
				out = append(out, c)
			}
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				s.pos = i
				s.fail("invalid utf-8 in string")
				return nil, false
			}
			if escaped && dst != nil {
				out = append(out, b[i:i+n]...)
			}
			i += n
		}
	}
	s.pos = i
	s.fail("unterminated string")
	return nil, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Valid reports whether b is one JSON document this package accepts.
func Valid(b []byte) bool {
	var s Scanner
	s.Reset(b)
	return s.Skip() && s.Finish() == nil
}

// ErrNotInteger and ErrRange are returned by the number parsers.
var (
	ErrNotInteger = errors.New("jsonscan: number is not an integer")
	ErrRange      = errors.New("jsonscan: number out of range")
)

// ParseInt parses the text of a JSON number (as returned by Num) as an int64. Fractions and
// exponents are ErrNotInteger, as encoding/json does for an integer target.
func ParseInt(num []byte) (int64, error) {
	neg := false
	d := num
	if len(d) > 0 && d[0] == '-' {
		neg, d = true, d[1:]
	}
	if len(d) == 0 {
		return 0, ErrNotInteger
	}
	if len(d) > 18 {
		for _, c := range d {
			if c < '0' || c > '9' {
				return 0, ErrNotInteger
			}
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return 0, ErrRange
		}
		return v, nil
	}
	var v int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, ErrNotInteger
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
}

// ParseFloat parses the text of a JSON number as a float64, exactly as strconv.ParseFloat
// does; a number too large for a float64 is ErrRange, as encoding/json rejects it.
func ParseFloat(num []byte) (float64, error) {
	// Fast path: plain integers of up to 15 digits are exact in a float64.
	if len(num) > 0 && len(num) <= 15 {
		neg := num[0] == '-'
		d := num
		if neg {
			d = d[1:]
		}
		var v int64
		ok := len(d) > 0
		for _, c := range d {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			v = v*10 + int64(c-'0')
		}
		if ok {
			f := float64(v)
			if neg {
				f = -f
			}
			return f, nil
		}
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		return 0, ErrRange
	}
	return f, nil
}

// Seek moves to offset pos of the document, which must be the start of a value the scanner
// has already read and checked (see Pos), so that it can be read again.
func (s *Scanner) Seek(pos int) {
	s.pos = pos
}
