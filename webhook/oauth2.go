package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// OAuth2 is an OAuth2 client that gets its bearer token with the client
// credentials grant (RFC 6749 s4.4): Mautic's API credentials of type
// OAuth2 (Settings -> API Credentials).
type OAuth2 struct {
	// TokenURL is where the token is asked for; empty means the format's
	// own (Mautic: {url}/oauth/v2/token).
	TokenURL     string
	ClientID     string
	ClientSecret string
}

// tokenSource keeps an endpoint's OAuth2 token until shortly before it
// expires; nil means the endpoint does not use OAuth2.
type tokenSource struct {
	cfg OAuth2

	mu      sync.Mutex
	token   string
	expires time.Time
}

func newTokenSource(cfg *OAuth2, root string) *tokenSource {
	if cfg == nil {
		return nil
	}
	c := *cfg
	if c.TokenURL == "" {
		c.TokenURL = root + "/oauth/v2/token"
	}
	return &tokenSource{cfg: c}
}

// authorization returns the Authorization header to send, asking for a
// token when there is none or it is about to expire; fresh forgets the
// token kept (the API refused it). The attempt is set when asking failed.
func (ts *tokenSource) authorization(ctx context.Context, c *caller, fresh bool) (string, *Attempt) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := c.d.opts.Now()
	if !fresh && ts.token != "" && now.Before(ts.expires) {
		return "Bearer " + ts.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {ts.cfg.ClientID},
		"client_secret": {ts.cfg.ClientSecret}}
	a, body := c.do(ctx, call{step: "get an OAuth2 token", method: http.MethodPost, url: ts.cfg.TokenURL,
		body: []byte(form.Encode()), contentType: "application/x-www-form-urlencoded", answer: true})
	if a.Err != nil || a.Problem != "" || a.Status/100 != 2 {
		return "", &a
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		a.Problem = "the token endpoint's answer has no access_token"
		return "", &a
	}
	life := time.Duration(tok.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour
	}
	// Ask again a minute early (or at half its life when short), so that
	// a token never expires between the check and the request.
	ts.token, ts.expires = tok.AccessToken, now.Add(life-min(time.Minute, life/2))
	return "Bearer " + ts.token, nil
}
