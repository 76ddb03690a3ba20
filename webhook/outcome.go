package webhook

import (
	"fmt"
	"net/http"
)

// Attempt is what one delivery attempt got back: the endpoint's answer,
// or the error that kept it from answering.
type Attempt struct {
	Status   int    // the HTTP status; 0 when Err is set
	Location string // of a redirect, redacted (redirects are not followed)
	Body     []byte // the start of the answer's body
	Err      error  // a network error or a timeout; nil when Status is set
}

func (a Attempt) String() string {
	switch {
	case a.Err != nil:
		return a.Err.Error()
	case a.Location != "":
		return fmt.Sprintf("%d %s, redirect to %s (not followed)", a.Status, http.StatusText(a.Status), a.Location)
	}
	return fmt.Sprintf("%d %s: %q", a.Status, http.StatusText(a.Status), a.Body)
}

// Outcome is what an attempt means for the entry.
type Outcome int

const (
	// Delivered: the endpoint took the entry; go on with the next.
	Delivered Outcome = iota
	// Retry: the failure may pass (the endpoint is down, slow, busy, or
	// misdirected); send the same entry again later, and nothing after it
	// meanwhile.
	Retry
	// Reject: the endpoint refuses this entry for good; put it on the
	// dead-letter list and go on with the next.
	Reject
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Retry:
		return "retry"
	}
	return "reject"
}

// Classify is the outcome of an attempt for an endpoint with no Classify
// of its own: a 2xx is delivered; a 4xx other than 408 (timeout) and 429
// (too many requests) says the request itself is wrong, and sending it
// again would hold the endpoint forever, so it is rejected; anything else
// (a network error, a timeout, a 5xx, a redirect, which is not followed)
// is retried. Formats whose receivers answer otherwise (a 404 for an
// address they do not know, say) set Endpoint.Classify.
func Classify(a Attempt) Outcome {
	switch {
	case a.Err != nil:
		return Retry
	case a.Status >= 200 && a.Status < 300:
		return Delivered
	case a.Status >= 400 && a.Status < 500 && a.Status != http.StatusRequestTimeout && a.Status != http.StatusTooManyRequests:
		return Reject
	}
	return Retry
}
