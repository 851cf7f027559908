package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Error is a non-2xx answer of the cloud.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("api: cloud answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Retryable reports whether sending the same request again later may succeed: true for
// transport errors, 408, 429 and 5xx; false for the other 4xx answers (a bad or refused request
// stays bad). A gateway outbox keeps retrying what is retryable and parks the rest.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if !errors.As(err, &e) {
		return !errors.Is(err, context.Canceled)
	}
	return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Client is the gateway side of the cloud API. It is safe for concurrent use.
type Client struct {
	base      string
	gatewayID string
	key       []byte
	http      *http.Client
	now       func() time.Time
}

// ClientOption changes a Client.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client (for TLS settings, proxies). Its Timeout must be longer
// than the long-poll wait, or zero.
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithClock sets the clock used for request timestamps.
func WithClock(now func() time.Time) ClientOption { return func(c *Client) { c.now = now } }

// NewClient returns a client for the cloud at baseURL (e.g. "https://grid.example.cn") that
// signs as gatewayID with key.
func NewClient(baseURL, gatewayID string, key []byte, opts ...ClientOption) *Client {
	c := &Client{
		base:      strings.TrimRight(baseURL, "/"),
		gatewayID: gatewayID,
		key:       append([]byte(nil), key...),
		http:      &http.Client{Timeout: 60 * time.Second},
		now:       time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// SendAlert reports an alert and returns its case. Sending the same AlarmID again returns the
// same case, so the outbox may resend after any failure.
func (c *Client) SendAlert(ctx context.Context, a Alert) (Case, error) {
	var out Case
	err := c.do(ctx, http.MethodPost, "/api/v1/alerts", a, &out)
	return out, err
}

// CaseByAlarm returns the case of one of this gateway's alarms.
func (c *Client) CaseByAlarm(ctx context.Context, alarmID string) (Case, error) {
	var out Case
	err := c.do(ctx, http.MethodGet, "/api/v1/alerts/"+url.PathEscape(alarmID), nil, &out)
	return out, err
}

// Heartbeat tells the cloud the gateway is alive.
func (c *Client) Heartbeat(ctx context.Context, h Heartbeat) (HeartbeatReply, error) {
	if h.SentAt.IsZero() {
		h.SentAt = c.now()
	}
	var out HeartbeatReply
	err := c.do(ctx, http.MethodPost, "/api/v1/gateway/heartbeat", h, &out)
	return out, err
}

// PollCaseUpdates long-polls for the state changes of this gateway's cases after the cursor
// after (0 for all). It returns as soon as there are updates, or with none after about 25 s.
// The caller stores Updates.Next durably once it has applied the updates and passes it next.
func (c *Client) PollCaseUpdates(ctx context.Context, after int64) (Updates, error) {
	return c.PollCaseUpdatesWait(ctx, after, 25*time.Second)
}

// PollCaseUpdatesWait is PollCaseUpdates with the longest wait given (the cloud caps it at 25 s).
func (c *Client) PollCaseUpdatesWait(ctx context.Context, after int64, wait time.Duration) (Updates, error) {
	var out Updates
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "wait": {wait.String()}}
	err := c.do(ctx, http.MethodGet, "/api/v1/gateway/updates?"+q.Encode(), nil, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, uri string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("api: encode request: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+uri, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("api: %s %s: %w", method, uri, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	SignRequest(req, c.gatewayID, c.key, c.now(), body)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("api: %s %s: %w", method, uri, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("api: %s %s: read answer: %w", method, uri, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		_ = json.Unmarshal(data, &eb)
		if eb.Error == "" {
			eb.Error = strings.TrimSpace(string(data))
		}
		return &Error{Status: resp.StatusCode, Code: eb.Code, Message: eb.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("api: %s %s: decode answer: %w", method, uri, err)
	}
	return nil
}
