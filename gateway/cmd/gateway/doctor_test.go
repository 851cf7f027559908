package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestDoctorCommand: through run(), a broken configuration gives the table with every
// problem, exit 1, in Chinese by default and in English with -lang en; bad flags exit 2. The
// checks against real servers are in gateway/internal/e2e (TestDoctor).
func TestDoctorCommand(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"doctor", "-config", "testdata/three-mistakes.yaml"}, 1,
			[]string{"检查项", "配置文件", "失败", "site.grid_code:", "devices[0] (cb-0001).family:", "修复：", "跳过", "共 9 项：0 通过，0 警告，1 失败，8 跳过"}},
		{[]string{"doctor", "-lang", "en", "-config", "testdata/three-mistakes.yaml"}, 1,
			[]string{"CHECK", "FAIL", "3 problem(s)", "fix: correct each key listed above", "9 checks: 0 pass, 0 warn, 1 fail, 8 skipped"}},
		{[]string{"doctor", "-config", "testdata/no-such-file.yaml"}, 1, []string{"用 -config 指定配置文件"}},
		{[]string{"doctor", "-lang", "fr"}, 2, []string{"-lang must be zh or en"}},
		{[]string{"doctor", "-bogus"}, 2, []string{"flag provided but not defined"}},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		all := out.String() + errb.String()
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d\n%s", tt.args, code, tt.code, all)
		}
		for _, w := range tt.want {
			if !strings.Contains(all, w) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, w, all)
			}
		}
	}

	var out, errb bytes.Buffer
	if code := run([]string{"doctor", "-json", "-config", "testdata/three-mistakes.yaml"}, &out, &errb); code != 1 {
		t.Fatalf("-json: exit %d", code)
	}
	var rep struct {
		OK      bool `json:"ok"`
		Results []struct{ ID, Status string }
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.OK || len(rep.Results) != 9 || rep.Results[0].ID != "config" || rep.Results[0].Status != "fail" {
		t.Errorf("-json: %v %+v\n%s", err, rep, out.String())
	}
}
