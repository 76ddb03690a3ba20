package api

import (
	"bytes"
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
// once.
const checkChunk = 10000

// check answers POST /v1/check {"addresses": [...]}: which of a whole send
// list are suppressed, one store read per checkChunk addresses.
//
// The answer can be many times larger than the list (a short suppressed
// address repeated, or "" over and over, each listed again in full), so
// it is never held: the list's bytes are read and checked for syntax
// first, then read again, a chunk at a time, while the answer is written
// out. The server holds the list and one chunk whatever the list holds.
// A store failure on the first chunk is a 500; on a later one, when the
// answer has begun, it cuts the answer short, as an export does.
func (a *api) check(w http.ResponseWriter, r *http.Request) {
	list, err := readBody(w, r, a.maxBody)
	checked := 0
	listed := false
	if err == nil {
		listed, err = decodeAddressList(bytes.NewReader(list), func(string) error { checked++; return nil })
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"request body larger than %d bytes; split the address list into several calls", tooLarge.Limit))
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, `empty body; want {"addresses": [...]}`)
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
	case !listed:
		writeError(w, http.StatusBadRequest, `missing "addresses"; want {"addresses": [...]}`)
	case checked == 0:
		writeError(w, http.StatusBadRequest, `"addresses" is empty`)
	default:
		a.answerCheck(w, r, list, checked)
	}
}

// readBody reads r's body, at most limit bytes, into a buffer sized once
// from its Content-Length when it has one, so that a long list is held
// once and not also in the copies of a growing buffer.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 {
		buf.Grow(int(min(n, limit)) + bytes.MinRead) // ReadFrom wants MinRead free at the end
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	return buf.Bytes(), err
}

// answerCheck writes the answer to a check of list, a valid request body
// naming checked addresses: {"checked": N, "suppressed": [...], "invalid": [...]}.
func (a *api) answerCheck(w http.ResponseWriter, r *http.Request, list []byte, checked int) {
	out := checkWriter{w: w}
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
		out.begin(checked)
		for i, s := range found {
			if s != nil {
				out.item(checkResult{Address: given[i], Normalized: normalized[i], Reason: s.Reason, Detail: s.Detail, Since: s.Since})
			}
		}
		given, normalized = given[:0], normalized[:0]
		return nil
	}
	var storeErr error
	invalid := make([]uint64, (checked+63)/64) // a bit per address: Normalize runs once for each
	i := 0
	decodeAddressList(bytes.NewReader(list), func(addr string) error { // valid: checked before
		if n, err := store.Normalize(addr); err == nil {
			given, normalized = append(given, addr), append(normalized, n)
			if len(normalized) == checkChunk {
				storeErr = flush()
			}
		} else {
			invalid[i/64] |= 1 << (i % 64)
		}
		i++
		return storeErr
	})
	if storeErr == nil {
		storeErr = flush()
	}
	switch {
	case storeErr != nil && !out.begun:
		a.internalError(w, r, storeErr)
		return
	case storeErr != nil:
		// Too late for a status: cut the answer short, so that the
		// client sees a broken transfer rather than a short list.
		a.log.Error("api: check failed midway", "err", storeErr)
		panic(http.ErrAbortHandler)
	}
	out.begin(checked)
	out.next(`],"invalid":[`)
	i = 0
	decodeAddressList(bytes.NewReader(list), func(addr string) error {
		if invalid[i/64]&(1<<(i%64)) != 0 {
			out.item(addr)
		}
		i++
		return nil
	})
	out.next("]}\n")
}

// checkWriter writes the answer of a check item by item.
type checkWriter struct {
	w     http.ResponseWriter
	begun bool // the status and the head are written
	first bool // no item yet in the current list
	buf   bytes.Buffer
	enc   *json.Encoder
}

// begin writes the status and the answer up to its suppressed list, once.
func (c *checkWriter) begin(checked int) {
	if c.begun {
		return
	}
	c.begun = true
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.Header().Set("X-Content-Type-Options", "nosniff")
	c.w.WriteHeader(http.StatusOK)
	c.enc = json.NewEncoder(&c.buf)
	c.enc.SetEscapeHTML(false) // as writeJSON
	c.next(fmt.Sprintf(`{"checked":%d,"suppressed":[`, checked))
}

// next writes s and starts a new list.
func (c *checkWriter) next(s string) {
	io.WriteString(c.w, s) // an error here means the client left
	c.first = true
}

// item writes v as the next item of the current list.
func (c *checkWriter) item(v any) {
	c.buf.Reset()
	if !c.first {
		c.buf.WriteByte(',')
	}
	c.first = false
	c.enc.Encode(v)
	c.w.Write(bytes.TrimSuffix(c.buf.Bytes(), []byte("\n")))
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
