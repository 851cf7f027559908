package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"gopkg.in/yaml.v3"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/tsdb"
	"github.com/community-edge/edge/gateway/internal/video"
)

// notAPI are routes the OpenAPI document leaves out on purpose.
var notAPI = map[string]string{
	"/*": "the duty console's static assets (package console)",
}

type noSeries struct{}

func (noSeries) Series(context.Context, tsdb.SeriesQuery) (tsdb.Series, error) {
	return tsdb.Series{}, nil
}

const testToken = "openapi-test-token-0123456789"

// fullServer is a server with every optional part's routes added, as the daemon adds them.
func fullServer(t *testing.T) *Server {
	t.Helper()
	s := New("127.0.0.1:0", []config.APIToken{{Name: "t", Token: testToken, Role: RoleDuty}},
		Deps{Site: config.Site{Code: "s1", Name: "幸福社区", TimeZone: "Asia/Shanghai", GridCode: "110105001002003"}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.AddSeries(noSeries{})
	hub := video.New(video.Config{}, nil, slog.New(slog.DiscardHandler))
	s.AddCameras(hub, video.NewRelay(hub, video.RelayConfig{}, nil, slog.New(slog.DiscardHandler)))
	s.AddCameraAdmin(CameraAdmin{Hub: hub})
	return s
}

// registered returns the methods of every route on r, by path.
func registered(t *testing.T, r chi.Router) map[string][]string {
	t.Helper()
	byPath := map[string][]string{}
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.ReplaceAll(route, "/*/", "/") // chi shows mounted routers' joins this way
		byPath[route] = append(byPath[route], strings.ToLower(method))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, ms := range byPath {
		// a route for any method (chi's Handle) shows as every method, CONNECT and TRACE
		// among them; it is documented by its GET
		if slices.Contains(ms, "connect") && slices.Contains(ms, "trace") {
			byPath[p] = []string{"get"}
		}
	}
	return byPath
}

type openAPIDoc struct {
	OpenAPI    string                          `yaml:"openapi"`
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components map[string]map[string]yaml.Node `yaml:"components"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadDoc(t *testing.T) (openAPIDoc, map[string]any) {
	t.Helper()
	var doc openAPIDoc
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(openAPI, &raw); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.yaml: openapi = %q, want 3.x", doc.OpenAPI)
	}
	return doc, raw
}

// TestOpenAPIMatchesRouter checks that every route the server registers is in openapi.yaml and
// every operation there is registered. Adding a route means documenting it.
func TestOpenAPIMatchesRouter(t *testing.T) {
	doc, _ := loadDoc(t)
	routes := registered(t, fullServer(t).Router())
	var missing, extra []string
	for p, ms := range routes {
		if _, skip := notAPI[p]; skip {
			continue
		}
		for _, m := range ms {
			if _, ok := doc.Paths[p][m]; !ok {
				missing = append(missing, strings.ToUpper(m)+" "+p)
			}
		}
	}
	for p, item := range doc.Paths {
		for m := range item {
			if !slices.Contains(httpMethods, m) {
				continue
			}
			if !slices.Contains(routes[p], m) {
				extra = append(extra, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes registered but not in gateway/internal/httpapi/openapi.yaml (document them):\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("operations in openapi.yaml that the server does not register:\n  %s", strings.Join(extra, "\n  "))
	}
	for p := range notAPI {
		if _, ok := routes[p]; !ok {
			t.Errorf("notAPI lists %s, which is no longer registered", p)
		}
	}
}

// TestOpenAPIWellFormed checks what a reader of the document relies on: each operation has an
// id (unique) and responses, every path parameter is declared, every $ref resolves, and every
// operation that needs a login says what happens without one.
func TestOpenAPIWellFormed(t *testing.T) {
	doc, raw := loadDoc(t)
	var refs []string
	var collect func(v any)
	collect = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "$ref" {
					refs = append(refs, s)
				}
				collect(e)
			}
		case []any:
			for _, e := range x {
				collect(e)
			}
		}
	}
	collect(raw)
	for _, r := range refs {
		name, ok := strings.CutPrefix(r, "#/components/")
		kind, key, _ := strings.Cut(name, "/")
		if _, found := doc.Components[kind][key]; !ok || !found {
			t.Errorf("$ref %s does not resolve", r)
		}
	}

	ids := map[string]string{}
	paramRe := regexp.MustCompile(`\{([^}]+)\}`)
	for p, item := range doc.Paths {
		var pathParams []any
		if n, ok := item["parameters"]; ok {
			n.Decode(&pathParams)
		}
		for m, n := range item {
			if !slices.Contains(httpMethods, m) {
				continue
			}
			where := strings.ToUpper(m) + " " + p
			var op struct {
				OperationID string         `yaml:"operationId"`
				Parameters  []any          `yaml:"parameters"`
				Responses   map[string]any `yaml:"responses"`
				Security    *[]any         `yaml:"security"`
			}
			if err := n.Decode(&op); err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", where)
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %s also used by %s", where, op.OperationID, other)
			}
			ids[op.OperationID] = where
			if len(op.Responses) == 0 {
				t.Errorf("%s: no responses", where)
			}
			public := op.Security != nil && len(*op.Security) == 0
			if _, ok := op.Responses["401"]; !public && !ok {
				t.Errorf("%s: needs a login but documents no 401", where)
			}
			declared := map[string]bool{}
			for _, prm := range append(slices.Clone(pathParams), op.Parameters...) {
				if name, in := paramOf(t, doc, prm); in == "path" {
					declared[name] = true
				}
			}
			for _, m := range paramRe.FindAllStringSubmatch(p, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: path parameter {%s} not declared", where, m[1])
				}
			}
		}
	}
}

// paramOf returns a parameter's name and location, following a $ref.
func paramOf(t *testing.T, doc openAPIDoc, prm any) (string, string) {
	m, _ := prm.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		n := doc.Components["parameters"][strings.TrimPrefix(ref, "#/components/parameters/")]
		m = map[string]any{}
		n.Decode(&m)
	}
	name, _ := m["name"].(string)
	in, _ := m["in"].(string)
	return name, in
}

func TestSiteOpenAPIAndConsoleServed(t *testing.T) {
	h := fullServer(t).Router()
	for _, tc := range []struct {
		name, path string
		bearer     bool
		status     int
		ctype      string
		contains   string
	}{
		{"site", "/api/v1/site", true, 200, "application/json", `"time_zone":"Asia/Shanghai"`},
		{"site needs a login", "/api/v1/site", false, 401, "application/json", "login required"},
		{"openapi", "/api/v1/openapi.yaml", true, 200, "application/yaml", "openapi: 3."},
		{"openapi needs a login", "/api/v1/openapi.yaml", false, 401, "application/json", "login required"},
		{"console without a login", "/", false, 200, "text/html", "<main id=\"view\""},
		{"console script", "/js/app.js", false, 200, "text/javascript", "import"},
		{"no such asset", "/nope.js", false, 404, "", ""},
		{"unknown API path stays the API's", "/api/v1/nope", true, 404, "application/json", "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			if tc.bearer {
				req.Header.Set("Authorization", "Bearer "+testToken)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("Content-Type %q, want %s…", ct, tc.ctype)
			}
			if !strings.Contains(rec.Body.String(), tc.contains) {
				t.Errorf("body does not contain %q:\n%.300s", tc.contains, rec.Body)
			}
		})
	}
	var site siteView
	req := httptest.NewRequest("GET", "/api/v1/site", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if err := json.Unmarshal(rec.Body.Bytes(), &site); err != nil || site.Name != "幸福社区" || site.Code != "s1" {
		t.Fatalf("site = %+v, %v", site, err)
	}
}
