package uplink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/community-edge/edge/cloud/api"
)

// Cloud connects to this project's grid case system (cloud/), signing every request with the
// gateway's own key.
type Cloud struct {
	c *api.Client
}

// NewCloud makes the cloud connector.
func NewCloud(baseURL, gatewayID string, key []byte) *Cloud {
	return &Cloud{c: api.NewClient(baseURL, gatewayID, key, api.WithHTTPClient(&http.Client{Timeout: 40 * time.Second}))}
}

// Send implements Connector.
func (c *Cloud) Send(ctx context.Context, a api.Alert) (Receipt, error) {
	cs, err := c.c.SendAlert(ctx, a)
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{CaseID: strconv.FormatInt(cs.ID, 10), State: string(cs.State)}, nil
}

// Retryable implements Connector.
func (c *Cloud) Retryable(err error) bool { return api.Retryable(err) }

// Heartbeat implements Link.
func (c *Cloud) Heartbeat(ctx context.Context, h api.Heartbeat) error {
	_, err := c.c.Heartbeat(ctx, h)
	return err
}

// Updates implements Link with the cloud's long poll.
func (c *Cloud) Updates(ctx context.Context, after int64) (api.Updates, error) {
	return c.c.PollCaseUpdatesWait(ctx, after, 25*time.Second)
}

// Webhook feeds a city's existing grid system without code: each alert is POSTed to a URL with
// the configured headers and a JSON body made from a template over the alert's fields.
type Webhook struct {
	url     string
	headers map[string]string
	body    *bodyTemplate
	caseKey string // JSON field of the answer holding the case id, if any
	http    *http.Client
}

// DefaultWebhookBody is the body template when none is configured: the whole alert as JSON.
const DefaultWebhookBody = `{{json .}}`

// NewWebhook makes a webhook connector. The body template is JSON with placeholders for the
// alert's fields (body.go), e.g. {"who": {{json .Resident.Name}}}; it must produce valid JSON.
func NewWebhook(url string, headers map[string]string, body, caseIDField string) (*Webhook, error) {
	if body == "" {
		body = DefaultWebhookBody
	}
	t, err := parseBody(body)
	if err != nil {
		return nil, fmt.Errorf("uplink: webhook body template: %w", err)
	}
	return &Webhook{url: url, headers: headers, body: t, caseKey: caseIDField, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Render makes the body for an alert; it is an error if the result is not JSON.
func (w *Webhook) Render(a api.Alert) ([]byte, error) {
	var buf bytes.Buffer
	if err := w.body.execute(&buf, &a); err != nil {
		return nil, fmt.Errorf("uplink: webhook body: %w", err)
	}
	if !json.Valid(buf.Bytes()) {
		return nil, fmt.Errorf("uplink: webhook body template did not produce JSON: %.200s", buf.String())
	}
	return buf.Bytes(), nil
}

// StatusError is a webhook answer that is not 2xx.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("uplink: webhook answered %d: %.200s", e.Status, e.Body)
}

// Send implements Connector.
func (w *Webhook) Send(ctx context.Context, a api.Alert) (Receipt, error) {
	body, err := w.Render(a)
	if err != nil {
		return Receipt{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return Receipt{}, fmt.Errorf("uplink: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", a.AlarmID)
	for k, v := range w.headers {
		req.Header.Set(k, v)
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return Receipt{}, fmt.Errorf("uplink: webhook: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return Receipt{}, &StatusError{Status: resp.StatusCode, Body: strings.TrimSpace(string(raw))}
	}
	var rec Receipt
	if w.caseKey != "" {
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil {
			if v, ok := m[w.caseKey]; ok {
				rec.CaseID = strings.Trim(fmt.Sprint(v), `"`)
			}
		}
	}
	return rec, nil
}

// Retryable implements Connector: transport errors, 408, 429 and 5xx.
func (w *Webhook) Retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusRequestTimeout || se.Status == http.StatusTooManyRequests || se.Status >= 500
	}
	return !errors.Is(err, context.Canceled)
}
