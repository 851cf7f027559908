package doctor

import (
	"fmt"
	"io"
	"strings"
	"unicode"
)

// statusText is a result's word in the report's language.
func statusText(s Status, en bool) string {
	zh := map[Status]string{Pass: "通过", Warn: "警告", Fail: "失败", Skip: "跳过"}
	if en {
		return strings.ToUpper(string(s))
	}
	return zh[s]
}

// WriteTable prints the report as a table of check, result and detail, with the fix on the
// line below each warning and failure, then a summary line. colour adds ANSI colours.
func WriteTable(w io.Writer, rep Report, colour bool) error {
	en := rep.Lang == "en"
	head := []string{"检查项", "结果", "详情 / 修复方法"}
	fixLabel, summary := "修复：", "共 %d 项：%d 通过，%d 警告，%d 失败，%d 跳过\n"
	if en {
		head = []string{"CHECK", "RESULT", "DETAIL / FIX"}
		fixLabel, summary = "fix: ", "%d checks: %d pass, %d warn, %d fail, %d skipped\n"
	}
	nameW, resW := width(head[0]), width(head[1])
	for _, r := range rep.Results {
		nameW = max(nameW, width(r.Name))
		resW = max(resW, width(statusText(r.Status, en)))
	}
	var b strings.Builder
	pad := func(s string, n int) string { return s + strings.Repeat(" ", max(n-width(s), 0)) }
	indent := strings.Repeat(" ", nameW+2+resW+2)
	b.WriteString(pad(head[0], nameW) + "  " + pad(head[1], resW) + "  " + head[2] + "\n")
	for _, r := range rep.Results {
		res := pad(statusText(r.Status, en), resW)
		if colour {
			res = map[Status]string{Pass: "\x1b[32m", Warn: "\x1b[33m", Fail: "\x1b[1;31m", Skip: "\x1b[2m"}[r.Status] + res + "\x1b[0m"
		}
		lines := strings.Split(r.Detail, "\n")
		b.WriteString(pad(r.Name, nameW) + "  " + res + "  " + lines[0] + "\n")
		for _, l := range lines[1:] {
			b.WriteString(indent + "  " + l + "\n")
		}
		if r.Fix != "" && (r.Status == Warn || r.Status == Fail) {
			b.WriteString(indent + "→ " + fixLabel + r.Fix + "\n")
		}
	}
	fmt.Fprintf(&b, summary, len(rep.Results), rep.Pass, rep.Warn, rep.Fail, rep.Skip)
	_, err := io.WriteString(w, b.String())
	return err
}

// width is how many terminal columns s takes: CJK and full-width characters take two.
func width(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r), r >= 0x3000 && r <= 0x303f, r >= 0xff00 && r <= 0xff60, r >= 0xac00 && r <= 0xd7a3:
			n += 2
		default:
			n++
		}
	}
	return n
}
