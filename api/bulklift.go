package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// LiftFilterJSON is the filter of POST /v1/suppressions/lift: the query
// parameters of GET /v1/suppressions (reason, class, domain, since, until,
// q) and source, detail, decoder and rule. Every field set must match.
type LiftFilterJSON struct {
	Reason  string `json:"reason,omitempty"`  // the suppression's reason: hard, soft, complaint, manual, import
	Class   string `json:"class,omitempty"`   // the class of the address's latest verdict
	Domain  string `json:"domain,omitempty"`  // the recipient domain
	Since   string `json:"since,omitempty"`   // suppressed at or after: RFC 3339 or a date
	Until   string `json:"until,omitempty"`   // suppressed at or before
	Q       string `json:"q,omitempty"`       // a substring of the address
	Source  string `json:"source,omitempty"`  // policy, manual or import
	Detail  string `json:"detail,omitempty"`  // the suppression's detail (the verdict's reason), exactly
	Decoder string `json:"decoder,omitempty"` // the decoder of the verdict that decided
	Rule    string `json:"rule,omitempty"`    // the rule of the verdict that decided
}

// BulkLiftRequest is the body of POST /v1/suppressions/lift.
type BulkLiftRequest struct {
	Filter LiftFilterJSON `json:"filter"`
	Note   string         `json:"note"` // required: kept in every address's history and audit entry
	DryRun bool           `json:"dry_run"`
}

// BulkLiftResponse is its answer.
type BulkLiftResponse struct {
	DryRun bool `json:"dry_run"`
	store.LiftResult
}

// Filter turns f into the store's filter; the error says which field is
// wrong.
func (f LiftFilterJSON) Filter() (store.LiftFilter, error) {
	out := store.LiftFilter{SuppressionFilter: store.SuppressionFilter{Reason: f.Reason, Class: f.Class, Domain: f.Domain,
		Search: f.Q}, Source: f.Source, Detail: f.Detail, Decoder: f.Decoder, Rule: f.Rule}
	var err error
	if out.Since, err = parseWhen("since", f.Since); err != nil {
		return out, err
	}
	if out.Until, err = parseWhen("until", f.Until); err != nil {
		return out, err
	}
	switch f.Source {
	case "", store.SourcePolicy, store.SourceManual, store.SourceImport:
	default:
		return out, fmt.Errorf("source %q: want policy, manual or import", f.Source)
	}
	return out, nil
}

// parseWhen reads an RFC 3339 time or a date (midnight UTC); "" is zero.
func parseWhen(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time or a date (2006-01-02)", name, v)
}

// bulkLift answers POST /v1/suppressions/lift: the suppressions the
// filter selects are lifted, each with its own audit entry (and so a
// webhook each), or, with dry_run, counted and sampled.
func (a *api) bulkLift(w http.ResponseWriter, r *http.Request) {
	st, ok := a.adminStore(w)
	if !ok {
		return
	}
	var req BulkLiftRequest
	if err := decodeJSON(w, r, MaxSmallBody, &req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		} else {
			writeError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		}
		return
	}
	f, err := req.Filter.Filter()
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, "filter: "+err.Error())
		return
	case f.Empty():
		writeError(w, http.StatusBadRequest, "filter: set at least one field; to lift every suppression say so with until")
		return
	case strings.TrimSpace(req.Note) == "":
		writeError(w, http.StatusBadRequest, "note: say why these suppressions are lifted; it is kept with each")
		return
	}
	res, err := st.LiftMatching(r.Context(), ActorFrom(r.Context()), f, req.Note, req.DryRun)
	if res.Sample == nil {
		res.Sample = []store.Suppression{}
	}
	switch {
	case err != nil && res.Lifted > 0:
		a.log.Error("bulk lift stopped part way", "lifted", res.Lifted, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{
			"error": "the lift stopped part way; what it lifted stays lifted, and the same request lifts the rest", "lifted": res.Lifted})
	case err != nil:
		a.storeError(w, r, err)
	default:
		a.log.Info("bulk lift", "actor", ActorFrom(r.Context()), "dry_run", req.DryRun, "matched", res.Matched, "lifted", res.Lifted)
		writeJSON(w, http.StatusOK, BulkLiftResponse{DryRun: req.DryRun, LiftResult: res})
	}
}
