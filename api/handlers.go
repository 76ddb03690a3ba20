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

// checkChunk is how many addresses of a check list go to the store at
// once: the list is checked as it is read, so a request holds one chunk
// and the answer, not the whole list.
const checkChunk = 10000

// check answers POST /v1/check {"addresses": [...]}: which of a whole send
// list are suppressed, one store read per checkChunk addresses.
func (a *api) check(w http.ResponseWriter, r *http.Request) {
	resp := checkResponse{Suppressed: []checkResult{}, Invalid: []string{}}
	var given, normalized []string
	flush := func() error {
		if len(normalized) == 0 {
			return nil
		}
		found, err := a.store.Check(r.Context(), normalized)
		if err == nil && len(found) != len(normalized) {
			err = fmt.Errorf("api: store answered %d of %d addresses", len(found), len(normalized))
		}
		if err != nil {
			return err
		}
		for i, s := range found {
			if s != nil {
				resp.Suppressed = append(resp.Suppressed, checkResult{Address: given[i],
					Normalized: normalized[i], Reason: s.Reason, Detail: s.Detail, Since: s.Since})
			}
		}
		given, normalized = given[:0], normalized[:0]
		return nil
	}
	var storeErr error
	listed, err := decodeAddressList(http.MaxBytesReader(w, r.Body, a.maxBody), func(addr string) error {
		resp.Checked++
		n, err := store.Normalize(addr)
		if err != nil {
			resp.Invalid = append(resp.Invalid, addr)
			return nil
		}
		given, normalized = append(given, addr), append(normalized, n)
		if len(normalized) == checkChunk {
			storeErr = flush()
		}
		return storeErr
	})
	if storeErr == nil && err == nil {
		storeErr = flush()
	}
	var tooLarge *http.MaxBytesError
	switch {
	case storeErr != nil:
		a.internalError(w, r, storeErr)
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"request body larger than %d bytes; split the address list into several calls", tooLarge.Limit))
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, `empty body; want {"addresses": [...]}`)
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
	case !listed:
		writeError(w, http.StatusBadRequest, `missing "addresses"; want {"addresses": [...]}`)
	case resp.Checked == 0:
		writeError(w, http.StatusBadRequest, `"addresses" is empty`)
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}

// decodeAddressList reads {"addresses": [...]} token by token, handing
// each address to each as it comes, so that the decoder holds one address
// at a time rather than the whole body (decoding the object at once
// buffers all of it). It is as strict as decodeJSON: no other field,
// nothing after the object; an empty body is io.EOF. listed is false when
// the list is absent or null. An error from each ends the reading.
func decodeAddressList(body io.Reader, each func(string) error) (listed bool, err error) {
	dec := json.NewDecoder(body)
	tok, err := dec.Token()
	if err != nil {
		return false, err // io.EOF: an empty body
	}
	if tok != json.Delim('{') {
		return false, fmt.Errorf("want a JSON object, got %v", tok)
	}
	listed, err = decodeAddressFields(dec, each)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // the object was cut short
	}
	return listed, err
}

// decodeAddressFields reads the fields of the check object after its {.
func decodeAddressFields(dec *json.Decoder, each func(string) error) (listed bool, err error) {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false, err
		}
		switch key, _ := tok.(string); {
		case key != "addresses":
			return false, fmt.Errorf("json: unknown field %q", key)
		case listed:
			return false, errors.New(`json: "addresses" given twice`)
		}
		tok, err = dec.Token()
		switch {
		case err != nil:
			return false, err
		case tok == nil:
			continue
		case tok != json.Delim('['):
			return false, fmt.Errorf(`"addresses": want a list of strings, got %v`, tok)
		}
		listed = true
		for dec.More() {
			var s string
			if err := dec.Decode(&s); err != nil {
				return false, err
			}
			if err := each(s); err != nil {
				return false, err
			}
		}
		if _, err := dec.Token(); err != nil { // ]
			return false, err
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return false, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return false, errors.New("unexpected data after the JSON object")
	}
	return listed, nil
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

// healthResponse is the body of GET /healthz.
type healthResponse struct {
	Status string    `json:"status"`          // ok, degraded or unavailable
	Store  string    `json:"store,omitempty"` // the engine's name
	Error  string    `json:"error,omitempty"` // why not ok
	Since  time.Time `json:"since,omitzero"`  // degraded: since the first failed write
}

// health answers GET /healthz: 200 when the store answers (for the
// postgres engine: when the database server does) and takes writes, with
// the engine's name; 503 when it does not answer (unavailable) or its
// last write failed (degraded, with the kind of failure and since when).
func (a *api) health(w http.ResponseWriter, r *http.Request) {
	var engine string
	if n, ok := a.store.(store.Namer); ok {
		engine = n.Engine()
	}
	if err := a.store.Ping(r.Context()); err != nil {
		a.log.Error("health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, healthResponse{Status: "unavailable", Store: engine, Error: "store unavailable"})
		return
	}
	if reason, since, bad := a.writes.Degraded(); bad {
		writeJSON(w, http.StatusServiceUnavailable, healthResponse{Status: "degraded", Store: engine,
			Error: "store writes failing: " + reason + "; bounces are refused with 451 until a write succeeds", Since: since})
		return
	}
	writeJSON(w, http.StatusOK, healthResponse{Status: "ok", Store: engine})
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
