package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/bouncesink/bouncesink/store"
)

// suppression answers GET /v1/suppressions/{address}: 200 with the record,
// 404 when the address is not suppressed.
func (a *api) suppression(w http.ResponseWriter, r *http.Request) {
	addr, ok := pathAddress(w, r)
	if !ok {
		return
	}
	s, err := a.store.Suppression(r.Context(), addr)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not suppressed", "address": addr})
	case err != nil:
		a.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, s)
	}
}

// recipientResponse is the body of GET /v1/recipients/{address}.
type recipientResponse struct {
	Recipient store.Recipient `json:"recipient"`
	Events    []store.Event   `json:"events"` // oldest first
}

// recipient answers GET /v1/recipients/{address}: the address's state and
// event history, 404 when nothing was ever recorded for it.
func (a *api) recipient(w http.ResponseWriter, r *http.Request) {
	addr, ok := pathAddress(w, r)
	if !ok {
		return
	}
	rec, events, err := a.store.Recipient(r.Context(), addr)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown recipient", "address": addr})
	case err != nil:
		a.internalError(w, r, err)
	default:
		if events == nil {
			events = []store.Event{}
		}
		writeJSON(w, http.StatusOK, recipientResponse{Recipient: rec, Events: events})
	}
}

type checkRequest struct {
	Addresses []string `json:"addresses"`
}

type checkResponse struct {
	Checked    int           `json:"checked"`    // addresses in the request
	Suppressed []checkResult `json:"suppressed"` // in request order
	Invalid    []string      `json:"invalid"`    // as given
}

type checkResult struct {
	Address    string    `json:"address"` // as given
	Normalized string    `json:"normalized"`
	Reason     string    `json:"reason"`
	Detail     string    `json:"detail"`
	Since      time.Time `json:"since"`
}

// check answers POST /v1/check {"addresses": [...]}: which of a whole send
// list are suppressed, in one store read.
func (a *api) check(w http.ResponseWriter, r *http.Request) {
	req, ok := a.decodeCheck(w, r)
	if !ok {
		return
	}
	resp := checkResponse{Checked: len(req.Addresses), Suppressed: []checkResult{}, Invalid: []string{}}
	var given, normalized []string
	for _, addr := range req.Addresses {
		n, err := store.Normalize(addr)
		if err != nil {
			resp.Invalid = append(resp.Invalid, addr)
			continue
		}
		given, normalized = append(given, addr), append(normalized, n)
	}
	if len(normalized) > 0 {
		found, err := a.store.Check(r.Context(), normalized)
		if err == nil && len(found) != len(normalized) {
			err = fmt.Errorf("api: store answered %d of %d addresses", len(found), len(normalized))
		}
		if err != nil {
			a.internalError(w, r, err)
			return
		}
		for i, s := range found {
			if s != nil {
				resp.Suppressed = append(resp.Suppressed, checkResult{Address: given[i],
					Normalized: normalized[i], Reason: s.Reason, Detail: s.Detail, Since: s.Since})
			}
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// decodeCheck reads a check request, answering 413 or 400 with the problem
// named when it cannot.
func (a *api) decodeCheck(w http.ResponseWriter, r *http.Request) (checkRequest, bool) {
	var req checkRequest
	err := decodeJSON(w, r, a.maxBody, &req)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"request body larger than %d bytes; split the address list into several calls", tooLarge.Limit))
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, `empty body; want {"addresses": [...]}`)
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
	case req.Addresses == nil:
		writeError(w, http.StatusBadRequest, `missing "addresses"; want {"addresses": [...]}`)
	case len(req.Addresses) == 0:
		writeError(w, http.StatusBadRequest, `"addresses" is empty`)
	default:
		return req, true
	}
	return req, false
}

// decodeJSON decodes the one JSON object of r's body, at most limit bytes,
// into v. It fails on unknown fields and on anything after the object; an
// empty body is io.EOF, one over the limit an *http.MaxBytesError.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("unexpected data after the JSON object")
	}
	return err
}

// health answers GET /healthz: 200 when the store answers (for the
// postgres engine: when the database server does), with the engine's name.
func (a *api) health(w http.ResponseWriter, r *http.Request) {
	if err := a.store.Ping(r.Context()); err != nil {
		a.log.Error("health check failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	res := map[string]string{"status": "ok"}
	if n, ok := a.store.(store.Namer); ok {
		res["store"] = n.Engine()
	}
	writeJSON(w, http.StatusOK, res)
}

// pathAddress returns the normalised {address} of the path, or answers 400.
func pathAddress(w http.ResponseWriter, r *http.Request) (string, bool) {
	raw := r.PathValue("address")
	addr, err := store.Normalize(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid address %q", raw))
		return "", false
	}
	return addr, true
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; use %s", r.Method, allow))
	}
}

// internalError logs err and answers 500 without its text.
func (a *api) internalError(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("api: store failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // diagnostics quote <addresses>; this is not HTML
	enc.Encode(v)            // an error here means the client left
}
