package webhook

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/bouncesink/bouncesink/store"
)

// Format is the shape of the requests sent to an endpoint.
type Format string

const (
	// FormatBouncesink POSTs one Payload per change of the audit trail.
	FormatBouncesink Format = "bouncesink"
	// FormatListmonk records a bounce in listmonk, through its bounce
	// API, for each suppression; see listmonk.go.
	FormatListmonk Format = "listmonk"
	// FormatListmonkBlocklist is the older listmonk format: it blocklists
	// the address with an SQL query (see listmonkBlocklist), which needs
	// the subscribers:sql_query permission and fails silently without
	// subscribers:get_all. Use FormatListmonk.
	FormatListmonkBlocklist Format = "listmonk-blocklist"
	// FormatMautic marks the contacts of the address Do Not Contact on
	// the email channel, and removes that mark on a lift; see mautic.go.
	FormatMautic Format = "mautic"
	// FormatKeila marks the Keila contact of the address unreachable, and
	// active again on a lift; see keila.go.
	FormatKeila Format = "keila"
)

// Formats lists the formats an endpoint may have.
var Formats = []Format{FormatBouncesink, FormatListmonk, FormatListmonkBlocklist, FormatMautic, FormatKeila}

// format speaks one endpoint's format: which entries it sends, the
// requests of one attempt at an entry, and what an attempt's answer means.
type format interface {
	// wants reports whether the format has anything to say about entry;
	// an entry it does not want counts as dealt with.
	wants(entry store.AuditEntry) bool
	// attempt delivers entry once, with as many requests as the format
	// needs, and returns how it went: the first request that failed, or
	// the last one, with Done saying what was done.
	attempt(ctx context.Context, c *caller, entry store.AuditEntry) Attempt
	// classify is the outcome of an attempt when the endpoint sets no
	// Classify of its own.
	classify(a Attempt) Outcome
}

// newFormat returns e's format, or an error for a format that does not
// exist or settings it cannot work with. d is nil when New only checks.
func newFormat(e Endpoint, d *Dispatcher) (format, error) {
	root := strings.TrimRight(e.URL, "/")
	switch e.Format {
	case FormatBouncesink, "":
		return bouncesinkFormat{url: e.URL}, nil
	case FormatListmonk:
		return listmonkFormat{root: root}, nil
	case FormatListmonkBlocklist:
		return listmonkBlocklist{root: root}, nil
	case FormatMautic:
		if e.OAuth2 != nil && e.Authorization != "" {
			return nil, fmt.Errorf("format mautic: set authorization (Basic) or oauth2, not both")
		}
		if e.OAuth2 == nil && e.Authorization == "" {
			return nil, fmt.Errorf("format mautic: no credentials: set authorization (Basic) or oauth2")
		}
		return &mauticFormat{root: root, oauth: newTokenSource(e.OAuth2, root)}, nil
	case FormatKeila:
		if e.Authorization == "" {
			return nil, fmt.Errorf("format keila: no authorization (\"Bearer API_KEY\")")
		}
		return keilaFormat{root: root}, nil
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return nil, fmt.Errorf("format %q: want one of %s", e.Format, strings.Join(names, ", "))
}

// bouncesinkFormat POSTs every entry as a Payload.
type bouncesinkFormat struct{ url string }

func (bouncesinkFormat) wants(store.AuditEntry) bool { return true }
func (bouncesinkFormat) classify(a Attempt) Outcome  { return Classify(a) }

func (f bouncesinkFormat) attempt(ctx context.Context, c *caller, entry store.AuditEntry) Attempt {
	body, err := jsonBody(Payload{Event: eventName(entry.Action), AuditEntry: entry})
	if err != nil {
		return Attempt{Problem: err.Error()}
	}
	a, _ := c.do(ctx, call{method: http.MethodPost, url: f.url, body: body})
	return a
}
