package credentials

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Table
		wantErr []string
	}{
		{name: "ok", in: "# site demo\ncb-0001,s3cret\n\n lk-0001 ,pa,ss\r\n",
			want: Table{"cb-0001": "s3cret", "lk-0001": "pa,ss"}},
		{name: "all mistakes", in: "cb-0001\n,pw\ncb-0002,x\ncb-0002,y\nch-0001,\n",
			wantErr: []string{"line 1: want device,password", "line 2: empty device", `line 4: device "cb-0002" listed twice`, "line 5: empty device"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Parse: no error, want %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for d, p := range tt.want {
				if got[d] != p {
					t.Errorf("%s: got %q, want %q", d, got[d], p)
				}
			}
		})
	}
}

func TestSources(t *testing.T) {
	tab := Table{"cb-0001": "own"}
	tests := []struct {
		name    string
		src     Source
		dev     string
		want    string
		wantErr bool
	}{
		{"shared", Shared("demo"), "x", "demo", false},
		{"table hit", tab, "cb-0001", "own", false},
		{"table miss", tab, "cb-0002", "", true},
		{"fallback own", Fallback{tab, "demo"}, "cb-0001", "own", false},
		{"fallback shared", Fallback{tab, "demo"}, "cb-0002", "demo", false},
	}
	for _, tt := range tests {
		got, err := tt.src.Password(tt.dev)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
