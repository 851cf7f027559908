package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
	qrdecoder "github.com/makiuchi-d/gozxing/qrcode/decoder"

	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/devices"
)

// Provisioning: the installer adds devices one by one or from a CSV file, and each new device's
// connection settings are answered once, with its password, as JSON and as a QR code.

// Import limits: a site has a few hundred devices; a larger file is split.
const (
	maxImportBytes = 256 << 10
	maxImportRows  = 500
)

// Connection is a new device's connection settings, the content of its QR code: compact JSON,
// version 1. The device logs in to host:port (or tls_port with TLS) with id as both its MQTT
// username and client id and password as its password, and publishes under prefix
// (community/{site}/{family}/{id}/{channel}).
type Connection struct {
	V        int    `json:"v"`
	Host     string `json:"host"`
	Port     int    `json:"port,omitempty"`
	TLSPort  int    `json:"tls_port,omitempty"`
	Site     string `json:"site"`
	Family   string `json:"family"`
	ID       string `json:"id"`
	Password string `json:"password"`
	Prefix   string `json:"prefix"`
}

// newDeviceView is a device just made: its view, its password (shown this once), and its
// connection settings as JSON and as a QR code (a data: URL of a PNG). None of it is stored
// or logged.
type newDeviceView struct {
	Device     deviceView `json:"device"`
	Password   string     `json:"mqtt_password"`
	Connection Connection `json:"connection"`
	QR         string     `json:"qr"`
	Note       string     `json:"note"`
}

// brokerHost is the host devices reach the broker by: the configured one, else the host the
// request reached the console by.
func (s *Server) brokerHost(r *http.Request) string {
	if s.broker.Host != "" {
		return s.broker.Host
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		return strings.Trim(r.Host, "[]")
	}
	return host
}

func (s *Server) newDeviceView(r *http.Request, role string, a devices.Added) (newDeviceView, error) {
	d := a.Device
	c := Connection{V: 1, Host: s.brokerHost(r), Port: s.broker.Port, TLSPort: s.broker.TLSPort, Site: d.Site,
		Family: string(d.Family), ID: d.ID, Password: a.Password,
		Prefix: "community/" + d.Site + "/" + string(d.Family) + "/" + d.ID}
	b, _ := json.Marshal(c)
	pic, err := qrPNG(string(b))
	if err != nil {
		return newDeviceView{}, fmt.Errorf("httpapi: qr code for %s: %w", d.ID, err)
	}
	return newDeviceView{Device: viewOf(d, role), Password: a.Password, Connection: c,
		QR:   "data:image/png;base64," + base64.StdEncoding.EncodeToString(pic),
		Note: fmt.Sprintf("the password is shown once; the device logs in as %q with client id %q", d.ID, d.ID)}, nil
}

// importDevices adds the devices of a CSV file (text/csv, header config.DeviceCSVHeader, no
// password column values: the gateway makes each password). Every row is checked first and
// every problem is answered with its line and column; then all devices are added, or none.
func (s *Server) importDevices(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "text/csv" {
		writeError(w, http.StatusUnsupportedMediaType, "send the file as text/csv")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxImportBytes+1))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the file is larger than %d KiB: split it", maxImportBytes>>10))
			return
		}
		writeError(w, http.StatusBadRequest, "reading the file: "+err.Error())
		return
	}
	if len(body) > maxImportBytes {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the file is larger than %d KiB: split it", maxImportBytes>>10))
		return
	}
	rows, problems, err := config.ReadDeviceCSV(bytes.NewReader(body), maxImportRows)
	if errors.Is(err, config.ErrTooManyRows) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d devices in the file: split it", maxImportRows))
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	firstLine := map[string]int{}
	for _, row := range rows {
		d := row.Device
		if d.Password != "" {
			problems = append(problems, config.CSVProblem{Line: row.Line, Column: "password",
				Msg: "leave it empty: the gateway makes each device's password and shows it once"})
		}
		if d.ID == "" {
			continue
		}
		if l, dup := firstLine[d.ID]; dup {
			problems = append(problems, config.CSVProblem{Line: row.Line, Column: "id", Msg: fmt.Sprintf("%q is also on line %d", d.ID, l)})
			continue
		}
		firstLine[d.ID] = row.Line
		if _, exists := s.devs.Lookup(d.ID); exists {
			problems = append(problems, config.CSVProblem{Line: row.Line, Column: "id", Msg: fmt.Sprintf("a device %q exists already", d.ID)})
		}
	}
	if len(problems) == 0 && len(rows) == 0 {
		problems = append(problems, config.CSVProblem{Line: 2, Msg: "no devices in the file"})
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("%d problems in the file; nothing was added", len(problems)),
			"problems": problems})
		return
	}
	cs := make([]config.Device, len(rows))
	for i, row := range rows {
		cs[i] = row.Device
	}
	by := actor(r)
	added, err := s.devs.AddAll(r.Context(), cs, by.Name, by.Remote, "csv import")
	if err != nil {
		if errors.Is(err, devices.ErrExists) {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		s.log.Error("importing devices", "err", err)
		writeError(w, http.StatusInternalServerError, "could not add the devices")
		return
	}
	out := make([]newDeviceView, 0, len(added))
	for _, a := range added {
		v, err := s.newDeviceView(r, p.Role, a)
		if err != nil {
			s.log.Error("device connection settings", "device", a.Device.ID, "err", err)
		}
		out = append(out, v)
	}
	s.log.Info("devices imported", "count", len(added), "by", p.Name)
	writeJSON(w, http.StatusCreated, map[string]any{"devices": out})
}

// deviceStream is a live Server-Sent Events stream of device changes only ("device" events,
// each the device as GET /devices/{id} shows it): connection state, and the first message
// since the gateway started. It opens with a "ready" event; a client that (re)connects reads
// the devices it watches after that.
func (s *Server) deviceStream(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	sub := s.devs.Subscribe(256)
	defer sub.Close()
	fl, ok := openEventStream(w)
	if !ok {
		return
	}
	fmt.Fprintf(w, "event: ready\ndata: {}\n\n")
	fl.Flush()
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case d, ok := <-sub.C:
			if !ok { // fell behind or shutting down: the page reconnects and rereads
				fmt.Fprintf(w, "event: resync\ndata: {}\n\n")
				fl.Flush()
				return
			}
			b, _ := json.Marshal(viewOf(d, p.Role))
			if _, err := fmt.Fprintf(w, "event: device\ndata: %s\n\n", b); err != nil {
				return
			}
			fl.Flush()
		case <-ping.C:
			if _, err := fmt.Fprintf(w, ": ping\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// qrScale is the pixels per module: about 300 px for a typical code, easy to scan off a screen.
const qrScale = 5

// qrPNG draws text as a QR code (error correction M, a quiet zone of 4 modules). The encoder
// picks the mask that scores best against the patterns that mislead a scanner (ISO 18004
// §7.8.3): a code drawn with a fixed mask was not found by a ZXing detector one time in
// eleven, as the installer's phone might not find it.
func qrPNG(text string) ([]byte, error) {
	m, err := gzqr.NewQRCodeWriter().Encode(text, gozxing.BarcodeFormat_QR_CODE, 0, 0,
		map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_ERROR_CORRECTION: qrdecoder.ErrorCorrectionLevel_M, gozxing.EncodeHintType_MARGIN: 4})
	if err != nil {
		return nil, err
	}
	w, h := m.GetWidth(), m.GetHeight()
	img := image.NewPaletted(image.Rect(0, 0, w*qrScale, h*qrScale), color.Palette{color.White, color.Black})
	for y := range h * qrScale {
		for x := range w * qrScale {
			if m.Get(x/qrScale, y/qrScale) {
				img.SetColorIndex(x, y, 1)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
