package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/community-edge/edge/gateway/internal/config"
)

func TestDerive(t *testing.T) {
	const src = `# header
site:
  name: a   # the name
broker:
  external:
    password: ${PW}  # or PW
devices:
  - id: d1
    password: ${D1}
    resident:
      name: x
http:
  listen: ":8080"
database:
  dsn_env: DSN   # from the environment
  # path: /tmp/x.db   # for sqlite
`
	for _, tc := range []struct {
		name    string
		src     string
		edits   []Edit
		want    []string // lines the result must contain
		notWant []string
		err     string
	}{
		{
			name:  "scalar keeps its comment column",
			src:   "site:\n  name: a   # the name\n",
			edits: []Edit{{Key: "site.name", Value: "b"}},
			want:  []string{"  name: b   # the name"},
		},
		{
			name:  "longer value pushes the comment",
			src:   "site:\n  name: a # n\n",
			edits: []Edit{{Key: "site.name", Value: "longer"}},
			want:  []string{"  name: longer  # n"},
		},
		{
			name: "nested key, the same name elsewhere untouched; list emptied and kept as comment",
			src:  src,
			edits: []Edit{
				{Key: "broker.external.password", Value: `""`},
				{Key: "devices", Value: "[]"},
				{Key: "database.dsn_env", Drop: true},
				{Key: "database.path", Value: "/var/lib/x.db"},
			},
			want: []string{
				`    password: ""     # or PW`,
				"devices: []",
				"  # - id: d1",
				"  #   password: ${D1}",
				"  #     name: x",
				"http:",
				`  listen: ":8080"`,
				"  # dsn_env: DSN   # from the environment",
				"  path: /var/lib/x.db  # for sqlite",
			},
			notWant: []string{"  - id: d1"},
		},
		{
			name:  "a missing key is an error",
			src:   src,
			edits: []Edit{{Key: "broker.embedded.listen", Value: ":1"}, {Key: "site.code", Value: "x"}},
			err:   "broker.embedded.listen: key not found; site.code: key not found",
		},
		{
			name:  "an environment reference left is an error naming its line",
			src:   src,
			edits: []Edit{{Key: "devices", Value: "[]"}},
			err:   `line 6: environment reference left in "password: ${PW}"`,
		},
		{
			name:  "a key does not match a longer one",
			src:   "data_dir_x: 1\n",
			edits: []Edit{{Key: "data_dir", Value: "2"}},
			err:   "data_dir: key not found",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Derivation{Header: "# made\n", Edits: tc.edits}.Derive([]byte(tc.src))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(out), "# made\n") {
				t.Errorf("header missing:\n%s", out)
			}
			lines := strings.Split(string(out), "\n")
			has := func(l string) bool {
				for _, x := range lines {
					if x == l {
						return true
					}
				}
				return false
			}
			for _, w := range tc.want {
				if !has(w) {
					t.Errorf("no line %q in:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if has(w) {
					t.Errorf("line %q still there:\n%s", w, out)
				}
			}
		})
	}
}

// TestGatewayConfigFromExample derives the packaged gateway.yaml from the repository's example
// and checks it is valid with no environment at all, with the data under /var/lib and none of
// the example's sample devices, cameras or API tokens.
func TestGatewayConfigFromExample(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "gateway.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Gateway().Derive(example)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(out, func(string) string { return "" })
	if err != nil {
		t.Fatalf("packaged gateway.yaml rejected: %v\n%s", err, out)
	}
	if cfg.DataDir != "/var/lib/community-gateway" || cfg.Alink.ModelsDir != "/etc/community-gateway/alink" {
		t.Errorf("data_dir %q, alink.models_dir %q", cfg.DataDir, cfg.Alink.ModelsDir)
	}
	if len(cfg.Devices) != 0 || len(cfg.Cameras) != 0 || len(cfg.HTTP.APITokens) != 0 {
		t.Errorf("sample entries shipped: %d devices, %d cameras, %d API tokens", len(cfg.Devices), len(cfg.Cameras), len(cfg.HTTP.APITokens))
	}
	// the example's comments stay: the installer edits an explained file
	if got, want := strings.Count(string(out), "#"), strings.Count(string(example), "#"); got < want {
		t.Errorf("%d comment marks in the packaged file, %d in the example", got, want)
	}
}
