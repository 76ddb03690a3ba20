package webhook

import (
	"fmt"
	"net/http"
)

// Attempt is what one delivery attempt got back: the endpoint's answer,
// or the error that kept it from answering.
type Attempt struct {
	// Step names the request of the attempt that this is the answer to,
	// for formats that make several ("find the contact"); empty for one.
	Step     string
	Status   int    // the HTTP status; 0 when Err is set
	Location string // of a redirect, redacted (redirects are not followed)
	Body     []byte // the start of the answer's body
	Err      error  // a network error or a timeout; nil when Status is set
	// Problem says why a 2xx answer is not what the format expects (a
	// search result that does not decode), or why the entry cannot be
	// sent at all: the entry is rejected.
	Problem string
	// Done says what a delivered attempt did, for the logs ("2 contacts
	// marked"); empty when it is all in the status.
	Done string
}

func (a Attempt) String() string {
	s := ""
	switch {
	case a.Err != nil:
		s = a.Err.Error()
	case a.Problem != "":
		s = a.Problem
		if a.Status != 0 {
			s = fmt.Sprintf("%d %s: %s", a.Status, http.StatusText(a.Status), a.Problem)
		}
	case a.Location != "":
		s = fmt.Sprintf("%d %s, redirect to %s (not followed)", a.Status, http.StatusText(a.Status), a.Location)
	default:
		s = fmt.Sprintf("%d %s: %q", a.Status, http.StatusText(a.Status), a.Body)
	}
	if a.Step != "" {
		s = a.Step + ": " + s
	}
	return s
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
// is retried. An attempt with a Problem (an answer the format cannot
// read, an entry it cannot encode) is rejected. A format whose receiver
// answers otherwise has a rule of its own (listmonk's 503 for bounce
// processing turned off), and an endpoint may set Endpoint.Classify.
func Classify(a Attempt) Outcome {
	switch {
	case a.Problem != "":
		return Reject
	case a.Err != nil:
		return Retry
	case a.Status >= 200 && a.Status < 300:
		return Delivered
	case a.Status >= 400 && a.Status < 500 && a.Status != http.StatusRequestTimeout && a.Status != http.StatusTooManyRequests:
		return Reject
	}
	return Retry
}
