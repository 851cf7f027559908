// Package console is the duty console: the web UI the gateway serves at "/" for duty staff,
// security staff, installers and admins. It is plain HTML, CSS and JavaScript modules embedded
// in the binary (no build step, nothing loaded from the network). The assets carry no data:
// every page fetches what it shows from the REST API and the live stream under /api/v1, which
// require a login. Text is in Simplified Chinese by default, English on request, one
// dictionary per language under static/i18n.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

//go:embed static
var assets embed.FS

// securityPolicy keeps the page to its own origin: no inline script, no frames, no network
// beyond the gateway.
const securityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Assets returns the console's files, rooted at the directory holding index.html.
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err) // the directory is embedded; this cannot fail
	}
	return sub
}

// Handler serves the console's assets. Every response carries a content security policy; an
// asset is revalidated by its ETag (a hash of its content) so a new gateway version is picked
// up at once. Paths that name no asset are 404.
func Handler() http.Handler {
	type asset struct {
		body []byte
		etag string
	}
	files := Assets()
	byPath := map[string]asset{}
	fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(files, p)
			sum := sha256.Sum256(b)
			byPath["/"+p] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		}
		return nil
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", securityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if p == "/" {
			p = "/index.html"
		}
		a, ok := byPath[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		if ct := mime.TypeByExtension(path.Ext(p)); ct != "" {
			h.Set("Content-Type", ct)
		}
		http.ServeContent(w, r, p, time.Time{}, bytes.NewReader(a.body))
	})
}
