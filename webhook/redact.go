package webhook

import (
	"errors"
	"net/url"
)

// RedactURL is u with what may be a secret hidden: the password of its
// user information and the value of every query parameter (tokens often
// ride there). It is what logs, errors, the API and the admin page show
// of an endpoint's URL.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return redacted(p)
}

func redacted(p *url.URL) string {
	c := *p
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			q[k] = []string{"xxxxx"}
		}
		c.RawQuery = q.Encode()
	}
	c.Fragment, c.RawFragment = "", ""
	return c.Redacted()
}

// DefaultName names an endpoint configured without a name: its URL
// without user information, query or fragment, so that changing a secret
// kept there does not make it a new endpoint.
func DefaultName(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.User, p.RawQuery, p.ForceQuery, p.Fragment, p.RawFragment = nil, "", false, "", ""
	return p.String()
}

// redactErr hides the secrets of the URL that a *url.Error (as
// http.Client returns them) quotes.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		c := *ue
		c.URL = RedactURL(ue.URL)
		return &c
	}
	return err
}
