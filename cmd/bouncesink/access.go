package main

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/bouncesink/bouncesink/api"
	"github.com/bouncesink/bouncesink/webhook"
)

// TokenConfig is one [[http.tokens]] entry: a bearer token for the API and
// the admin page. The secret is given in the file (token) or, better, in
// an environment variable named by token_env.
type TokenConfig struct {
	Name     string `toml:"name"`
	Role     string `toml:"role"` // read or admin
	Token    string `toml:"token"`
	TokenEnv string `toml:"token_env"`
}

// WebhookConfig is one [[webhooks]] entry.
type WebhookConfig struct {
	// Name keys the endpoint's position in the audit trail and its dead
	// letters; empty means the URL without credentials or query.
	Name   string `toml:"name"`
	URL    string `toml:"url"`
	Format string `toml:"format"` // bouncesink (the default) or listmonk
	// Secret keys the HMAC signature (required for format bouncesink).
	Secret    string `toml:"secret"`
	SecretEnv string `toml:"secret_env"`
	// Authorization is sent as the Authorization header (listmonk's API
	// credentials).
	Authorization    string   `toml:"authorization"`
	AuthorizationEnv string   `toml:"authorization_env"`
	Timeout          Duration `toml:"timeout"` // per request; 10s when unset
}

// secretValue returns a secret given literally or in an environment
// variable, never both.
func secretValue(what, literal, env string) (string, error) {
	switch {
	case literal != "" && env != "":
		return "", fmt.Errorf("%s: set it or its _env variable, not both", what)
	case env != "":
		v := os.Getenv(env)
		if v == "" {
			return "", fmt.Errorf("%s: environment variable %s is empty or unset", what, env)
		}
		return v, nil
	}
	return literal, nil
}

// auth builds the API's token check from [[http.tokens]].
func (c Config) auth() (*api.Auth, error) {
	var errs []error
	tokens := make([]api.Token, 0, len(c.HTTP.Tokens))
	for i, t := range c.HTTP.Tokens {
		v, err := secretValue(fmt.Sprintf("http.tokens[%d] (%s) token", i, t.Name), t.Token, t.TokenEnv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tokens = append(tokens, api.Token{Name: t.Name, Role: api.Role(t.Role), Value: v})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	a, err := api.NewAuth(tokens)
	if err != nil {
		return nil, fmt.Errorf("http.tokens: %w", err)
	}
	return a, nil
}

// checkOpenAPI refuses an API without tokens anywhere but on loopback:
// whoever reaches it could lift every suppression.
func (c Config) checkOpenAPI() error {
	if len(c.HTTP.Tokens) > 0 {
		return nil
	}
	host, _, err := net.SplitHostPort(c.HTTP.Listen)
	if err != nil {
		return nil // validate reports it
	}
	if isLoopback(host) {
		return nil
	}
	return fmt.Errorf("http.listen %q is not a loopback address and no [[http.tokens]] are configured: "+
		"anyone who reaches it could read and change the suppression list; add tokens or listen on 127.0.0.1", c.HTTP.Listen)
}

// trustedProxies parses http.trusted_proxies: CIDR prefixes or single
// addresses.
func (c Config) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.HTTP.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("http.trusted_proxies %q: want an address or a CIDR prefix (127.0.0.1, 10.0.0.0/8)", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// webhookEndpoints reads [[webhooks]].
func (c Config) webhookEndpoints() ([]webhook.Endpoint, error) {
	var errs []error
	var eps []webhook.Endpoint
	names := map[string]bool{}
	for i, w := range c.Webhooks {
		name := fmt.Sprintf("webhooks[%d] (%s)", i, webhook.RedactURL(w.URL))
		key := cmp.Or(w.Name, webhook.DefaultName(w.URL))
		if names[key] {
			errs = append(errs, fmt.Errorf("%s: name %q used twice; set name on each", name, key))
		}
		names[key] = true
		secret, secretErr := secretValue(name+" secret", w.Secret, w.SecretEnv)
		authz, authzErr := secretValue(name+" authorization", w.Authorization, w.AuthorizationEnv)
		errs = append(errs, secretErr, authzErr)
		format := webhook.Format(w.Format)
		if format == "" {
			format = webhook.FormatBouncesink
		}
		switch {
		case w.URL == "":
			errs = append(errs, fmt.Errorf("%s: url is empty", name))
		case format != webhook.FormatBouncesink && format != webhook.FormatListmonk:
			errs = append(errs, fmt.Errorf("%s: format %q: want bouncesink or listmonk", name, w.Format))
		case format == webhook.FormatBouncesink && len(secret) < 16 && secretErr == nil:
			errs = append(errs, fmt.Errorf("%s: secret (or secret_env) of at least 16 characters required: receivers verify the signature with it", name))
		case w.Timeout.Duration < 0 || w.Timeout.Duration > 5*time.Minute:
			errs = append(errs, fmt.Errorf("%s: timeout %s: want up to 5m", name, w.Timeout.Duration))
		}
		eps = append(eps, webhook.Endpoint{Name: w.Name, URL: w.URL, Format: format, Secret: []byte(secret),
			Authorization: authz, Timeout: w.Timeout.Duration})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return eps, nil
}

// webhookCursorPath is the file beside the database keeping each
// webhook's position in the audit trail.
func (c Config) webhookCursorPath() string { return c.Store.Path + ".webhooks.json" }
