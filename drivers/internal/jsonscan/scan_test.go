package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValid(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{`{}`, true},
		{` {"a" : [1, -0.5e+3, "x", true, false, null, {}] } `, true},
		{`"\u00e9\ud83d\ude00\/\b\f\n\r\t\\\""`, true},
		{`-0`, true},
		{`1E9`, true},
		{``, false},
		{` `, false},
		{`{`, false},
		{`{"a"}`, false},
		{`{"a":1,}`, false},
		{`{,"a":1}`, false},
		{`[1,]`, false},
		{`[,1]`, false},
		{`{"a":1 "b":2}`, false},
		{`{a:1}`, false},
		{`01`, false},
		{`1.`, false},
		{`.5`, false},
		{`1e`, false},
		{`-`, false},
		{`+1`, false},
		{`tru`, false},
		{`nul`, false},
		{`"\x"`, false},
		{`"\u12"`, false},
		{"\"a\tb\"", false},
		{"\"\xff\"", false},
		{`{} {}`, false},
		{`[1] x`, false},
		{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), true},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), false},
		{strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1), false},
	} {
		if got := Valid([]byte(c.in)); got != c.want {
			t.Errorf("Valid(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestStrUnescapes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`"plain"`, "plain"},
		{`"中文"`, "中文"},
		{`"a\"b\\c\/d"`, `a"b\c/d`},
		{`"\u4e2d\u6587"`, "中文"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud83d"`, "\uFFFD"},        // lone high surrogate
		{`"\ude00x"`, "\uFFFDx"},      // lone low surrogate
		{`"\ud83dx"`, "\uFFFDx"},      // high surrogate not followed by an escape
		{`"\ud83d\u0041"`, "\uFFFDA"}, // high surrogate followed by a non-surrogate
		{`"é\n"`, "é\n"},
	} {
		var s Scanner
		s.Reset([]byte(c.in))
		got, ok := s.Str()
		if !ok || string(got) != c.want || s.Finish() != nil {
			t.Errorf("Str(%s) = %q, %v (err %v), want %q", c.in, got, ok, s.Err(), c.want)
		}
	}
}

func TestObjectWalk(t *testing.T) {
	var s Scanner
	s.Reset([]byte(`{"a":1,"b\u0032":"x","c":{"d":[true]}}`))
	o, ok := s.Object()
	if !ok {
		t.Fatal(s.Err())
	}
	var keys []string
	for {
		k, ok := o.Next()
		if !ok {
			break
		}
		keys = append(keys, string(k))
		if !s.Skip() {
			t.Fatal(s.Err())
		}
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys, ","); got != "a,b2,c" {
		t.Errorf("keys %s", got)
	}
}

func TestParseNumbers(t *testing.T) {
	for _, c := range []struct {
		in      string
		i       int64
		ierr    error
		f       float64
		ferrNil bool
	}{
		{"0", 0, nil, 0, true},
		{"-17", -17, nil, -17, true},
		{"1767225600123", 1767225600123, nil, 1767225600123, true},
		{"9223372036854775807", 9223372036854775807, nil, 9223372036854775807, true},
		{"9223372036854775808", 0, ErrRange, 9223372036854775808, true},
		{"-9223372036854775808", -9223372036854775808, nil, -9223372036854775808, true},
		{"1.5", 0, ErrNotInteger, 1.5, true},
		{"1e3", 0, ErrNotInteger, 1000, true},
		{"1e999", 0, ErrNotInteger, 0, false},
	} {
		i, err := ParseInt([]byte(c.in))
		if i != c.i || !errors.Is(err, c.ierr) {
			t.Errorf("ParseInt(%s) = %d, %v; want %d, %v", c.in, i, err, c.i, c.ierr)
		}
		f, err := ParseFloat([]byte(c.in))
		if (err == nil) != c.ferrNil || (err == nil && f != c.f) {
			t.Errorf("ParseFloat(%s) = %v, %v; want %v", c.in, f, err, c.f)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	doc := []byte(`{"id":"evt-1","ts":1767225600123,"type":"sos","data":{"source":"wall","x":[1,2,{"y":null}]}}`)
	var s Scanner
	allocs := testing.AllocsPerRun(100, func() {
		s.Reset(doc)
		if !s.Skip() || s.Finish() != nil {
			t.Fatal(s.Err())
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per document", allocs)
	}
}

// depth is how deeply arrays and objects nest in b, which encoding/json accepts.
func depth(b []byte) int {
	d, max, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			d++
			max = max1(max, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return max
}

func max1(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// FuzzValid checks that the scanner accepts exactly what encoding/json accepts, less invalid
// UTF-8 and documents nested deeper than MaxDepth.
func FuzzValid(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5e-3,"\u00e9",true,null]}`, `"\ud83d\ude00"`, `[[[]]]`, `-0.0E+1`, `{"a":1,}`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ours := Valid(b)
		theirs := json.Valid(b)
		if ours && !theirs {
			t.Fatalf("accepted %q, which encoding/json rejects", b)
		}
		if theirs && !ours && utf8.Valid(b) && depth(b) <= MaxDepth {
			t.Fatalf("rejected %q, which encoding/json accepts", b)
		}
	})
}

// FuzzStr checks that strings unescape exactly as encoding/json unescapes them.
func FuzzStr(f *testing.F) {
	for _, s := range []string{`"a"`, `"\u4e2d"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83d\u0041"`, `"\\\"\/\b\f\n\r\t"`, `"é"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Scanner
		s.Reset(b)
		got, ok := s.Str()
		ok = ok && s.Finish() == nil
		var want string
		err := json.Unmarshal(b, &want)
		switch {
		case ok && err != nil:
			t.Fatalf("accepted %q, which encoding/json rejects: %v", b, err)
		case ok && !bytes.Equal(got, []byte(want)):
			t.Fatalf("%q unescaped to %q, encoding/json gives %q", b, got, want)
		case !ok && err == nil && utf8.Valid(b) && bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte(`"`)):
			t.Fatalf("rejected %q (%v), which encoding/json accepts", b, s.Err())
		}
	})
}

// FuzzNumbers checks that numbers scan and parse as encoding/json parses them.
func FuzzNumbers(f *testing.F) {
	for _, s := range []string{"0", "-1", "1.5", "1e3", "123456789012345678901", "-0.0", "1E-400"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Scanner
		s.Reset(b)
		num, ok := s.Num()
		if !ok || s.Finish() != nil {
			var x float64
			if json.Unmarshal(b, &x) == nil && bytes.ContainsAny(bytes.TrimSpace(b), "0123456789") && !bytes.ContainsAny(b, "\"[{ntf") {
				t.Fatalf("rejected number %q, which encoding/json accepts", b)
			}
			return
		}
		var wantF float64
		errF := json.Unmarshal(b, &wantF)
		gotF, err := ParseFloat(num)
		if (err == nil) != (errF == nil) || (err == nil && gotF != wantF) {
			t.Fatalf("ParseFloat(%s) = %v, %v; encoding/json %v, %v", num, gotF, err, wantF, errF)
		}
		var wantI int64
		errI := json.Unmarshal(b, &wantI)
		gotI, err := ParseInt(num)
		if (err == nil) != (errI == nil) || (err == nil && gotI != wantI) {
			t.Fatalf("ParseInt(%s) = %v, %v; encoding/json %v, %v", num, gotI, err, wantI, errI)
		}
	})
}
