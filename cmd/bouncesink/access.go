package main

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
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
	Name string `toml:"name"`
	URL  string `toml:"url"`
	// Format is bouncesink (the default), listmonk, listmonk-blocklist,
	// mautic or keila.
	Format string `toml:"format"`
	// Secret keys the HMAC signature (required for format bouncesink).
	Secret    string `toml:"secret"`
	SecretEnv string `toml:"secret_env"`
	// Authorization is sent as the Authorization header (listmonk's
	// "token USER:TOKEN", Mautic's "Basic ...", Keila's "Bearer KEY").
	Authorization    string   `toml:"authorization"`
	AuthorizationEnv string   `toml:"authorization_env"`
	Timeout          Duration `toml:"timeout"` // per request; 10s when unset
	// OAuth2 client credentials (Mautic), instead of authorization.
	ClientID        string `toml:"client_id"`
	ClientSecret    string `toml:"client_secret"`
	ClientSecretEnv string `toml:"client_secret_env"`
	TokenURL        string `toml:"token_url"` // default: Mautic's {url}/oauth/v2/token
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

// checkPublicSMTP refuses an SMTP listener on other than loopback while
// the return paths and greeting are still the quick start's localhost
// ones: every real bounce would be refused with 550 5.1.1, silently.
func (c Config) checkPublicSMTP() error {
	host, _, err := net.SplitHostPort(c.SMTP.Listen)
	if err != nil || isLoopback(host) {
		return nil // validate reports a bad address
	}
	var keys []string
	localOnly := len(c.SMTP.Accept) > 0
	for _, a := range c.SMTP.Accept {
		_, domain, _ := strings.Cut(a, "@")
		localOnly = localOnly && strings.EqualFold(strings.TrimSpace(domain), "localhost")
	}
	if localOnly {
		keys = append(keys, fmt.Sprintf("smtp.accept (your return paths, e.g. [\"@bounce.example.com\"]; now %q)", c.SMTP.Accept))
	}
	if strings.EqualFold(c.SMTP.Hostname, "localhost") {
		keys = append(keys, "smtp.hostname (the MX host name, e.g. \"sink.example.com\")")
	}
	if len(keys) == 0 {
		return nil
	}
	return fmt.Errorf("smtp.listen %q is not a loopback address, but the quick start's localhost settings are still in place, "+
		"so every real bounce would be refused; set %s", c.SMTP.Listen, strings.Join(keys, " and "))
}

// smtpIsPublic reports whether the SMTP listener is on other than loopback.
func (c Config) smtpIsPublic() bool {
	host, _, err := net.SplitHostPort(c.SMTP.Listen)
	return err == nil && !isLoopback(host)
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
		clientSecret, clientErr := secretValue(name+" client_secret", w.ClientSecret, w.ClientSecretEnv)
		errs = append(errs, secretErr, authzErr, clientErr)
		format := webhook.Format(w.Format)
		if format == "" {
			format = webhook.FormatBouncesink
		}
		var oauth *webhook.OAuth2
		if w.ClientID != "" || clientSecret != "" {
			oauth = &webhook.OAuth2{TokenURL: w.TokenURL, ClientID: w.ClientID, ClientSecret: clientSecret}
		}
		switch {
		case w.URL == "":
			errs = append(errs, fmt.Errorf("%s: url is empty", name))
		case !slices.Contains(webhook.Formats, format):
			errs = append(errs, fmt.Errorf("%s: format %q: want one of %v", name, w.Format, webhook.Formats))
		case oauth != nil && format != webhook.FormatMautic:
			errs = append(errs, fmt.Errorf("%s: client_id and client_secret are for format mautic", name))
		case oauth != nil && (w.ClientID == "" || clientSecret == "") && clientErr == nil:
			errs = append(errs, fmt.Errorf("%s: set both client_id and client_secret (or client_secret_env)", name))
		case format == webhook.FormatMautic && oauth == nil && authz == "" && authzErr == nil:
			errs = append(errs, fmt.Errorf(`%s: format mautic needs authorization ("Basic ...") or client_id and client_secret`, name))
		case format == webhook.FormatMautic && oauth != nil && authz != "":
			errs = append(errs, fmt.Errorf("%s: set authorization or client_id and client_secret, not both", name))
		case (format == webhook.FormatKeila || format == webhook.FormatListmonk) && authz == "" && authzErr == nil:
			errs = append(errs, fmt.Errorf("%s: format %s needs authorization (or authorization_env)", name, format))
		case format == webhook.FormatBouncesink && len(secret) < 16 && secretErr == nil:
			errs = append(errs, fmt.Errorf("%s: secret (or secret_env) of at least 16 characters required: receivers verify the signature with it", name))
		case w.Timeout.Duration < 0 || w.Timeout.Duration > 5*time.Minute:
			errs = append(errs, fmt.Errorf("%s: timeout %s: want up to 5m", name, w.Timeout.Duration))
		}
		eps = append(eps, webhook.Endpoint{Name: w.Name, URL: w.URL, Format: format, Secret: []byte(secret),
			Authorization: authz, OAuth2: oauth, Timeout: w.Timeout.Duration})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return eps, nil
}

// webhookCursorPath is the file beside the database keeping each
// webhook's position in the audit trail.
func (c Config) webhookCursorPath() string { return c.Store.Path + ".webhooks.json" }
