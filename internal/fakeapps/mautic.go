package fakeapps

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Mautic is a FAKE of the parts of Mautic's REST API (Mautic 4 and 5)
// that the mautic webhook format uses, built from Mautic's developer
// documentation (REST API: authorization, contacts, "Add Do Not Contact",
// "Remove from Do Not Contact"):
//   - GET /api/contacts?search=email:ADDRESS lists the contacts whose email
//     matches with SQL LIKE (% and _ are wildcards, case does not matter):
//     {"total": N, "contacts": {"ID": {...}}}, or "contacts": [] when none;
//     each contact has "id", "fields": {"all": {"email": ...}} and
//     "doNotContact": [{"reason", "comments", "channel"}];
//   - POST /api/contacts/ID/dnc/email/add with {"reason", "comments"} sets
//     the contact's entry on that channel and answers {"contact": {...}};
//     .../remove deletes it: {"recordFound": bool, "contact": {...}}; an
//     unknown ID is 404;
//   - HTTP Basic with a user's name and password (when "HTTP basic auth"
//     is on), or a bearer token from POST /oauth/v2/token with
//     grant_type=client_credentials, client_id and client_secret;
//   - errors are {"errors": [{"code", "message", "type"}]}: 401 for bad
//     or expired credentials, 403 for a user whose role may not edit
//     contacts and (an assumption: the documentation names no status)
//     for an API that is turned off.
//
// What it leaves out: every other field and endpoint, OAuth2's other
// grants and refresh tokens, pagination past "limit".
type Mautic struct {
	server
	APIEnabled, BasicAuth bool
	users                 map[string]MauticUser // by name
	clients               map[string]string     // client id -> secret
	tokens                map[string]time.Time  // token -> expiry
	contacts              []*MauticContact
	tokenLife             time.Duration
	issued                int
}

// MauticUser is a Mautic user; CanEdit is its role's contacts:edit.
type MauticUser struct {
	Name, Password string
	CanEdit        bool
}

// MauticContact is a contact and its Do Not Contact entries.
type MauticContact struct {
	ID           int
	Email        string
	DoNotContact []MauticDNC
}

// MauticDNC is a Do Not Contact entry: reason 1 unsubscribed, 2 bounced,
// 3 manual.
type MauticDNC struct {
	Reason   int    `json:"reason"`
	Comments string `json:"comments"`
	Channel  string `json:"channel"`
}

// NewMautic starts a fake Mautic with its API and Basic auth on.
func NewMautic(logf Logf, users ...MauticUser) *Mautic {
	m := &Mautic{APIEnabled: true, BasicAuth: true, users: map[string]MauticUser{}, clients: map[string]string{},
		tokens: map[string]time.Time{}, tokenLife: time.Hour}
	for _, u := range users {
		m.users[u.Name] = u
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/v2/token", m.token)
	mux.HandleFunc("GET /api/contacts", m.api(m.list))
	mux.HandleFunc("POST /api/contacts/{id}/dnc/{channel}/{op}", m.api(m.dnc))
	m.srv = httptest.NewServer(transcript("Mautic", logf, mux))
	return m
}

// SetSettings turns the API and its HTTP Basic auth on or off.
func (m *Mautic) SetSettings(api, basicAuth bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.APIEnabled, m.BasicAuth = api, basicAuth
}

// AddClient adds OAuth2 API credentials.
func (m *Mautic) AddClient(id, secret string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clients[id] = secret
}

// ExpireTokens makes every token issued so far expired.
func (m *Mautic) ExpireTokens() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for t := range m.tokens {
		m.tokens[t] = time.Time{}
	}
}

// TokensIssued counts the tokens handed out.
func (m *Mautic) TokensIssued() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.issued
}

// AddContact adds a contact and returns its id.
func (m *Mautic) AddContact(email string, dnc ...MauticDNC) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &MauticContact{ID: len(m.contacts) + 1, Email: email, DoNotContact: dnc}
	m.contacts = append(m.contacts, c)
	return c.ID
}

// Contact returns the contact with this id.
func (m *Mautic) Contact(id int) MauticContact {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *m.contacts[id-1]
	c.DoNotContact = append([]MauticDNC(nil), c.DoNotContact...)
	return c
}

func mauticError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"code": status, "message": msg, "type": typ}}})
}

func (m *Mautic) token(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.ParseForm()
	secret, ok := m.clients[r.PostForm.Get("client_id")]
	if r.PostForm.Get("grant_type") != "client_credentials" || !ok || secret != r.PostForm.Get("client_secret") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client", "error_description": "The client credentials are invalid"})
		return
	}
	m.issued++
	tok := "tok" + strconv.Itoa(m.issued)
	m.tokens[tok] = time.Now().Add(m.tokenLife)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": int(m.tokenLife.Seconds()), "token_type": "bearer", "scope": nil})
}

// api checks the API's settings and the credentials before h; h runs
// with the lock held and knows whether the caller may edit contacts.
func (m *Mautic) api(h func(w http.ResponseWriter, r *http.Request, canEdit bool)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if !m.APIEnabled {
			mauticError(w, http.StatusForbidden, "api_disabled", "API disabled. You need to enable the API in the API settings of Mautic's Configuration.")
			return
		}
		authz := r.Header.Get("Authorization")
		canEdit, ok := false, false
		if tok, bearer := strings.CutPrefix(authz, "Bearer "); bearer {
			exp, known := m.tokens[tok]
			ok, canEdit = known && time.Now().Before(exp), true // an API client acts as the admin who made it
		} else if b64, basic := strings.CutPrefix(authz, "Basic "); basic && m.BasicAuth {
			b, _ := base64.StdEncoding.DecodeString(b64)
			name, pass, _ := strings.Cut(string(b), ":")
			u, known := m.users[name]
			ok, canEdit = known && u.Password == pass, u.CanEdit
		}
		if !ok {
			mauticError(w, http.StatusUnauthorized, "access_denied", "API authorization denied.")
			return
		}
		h(w, r, canEdit)
	}
}

func (c *MauticContact) json() map[string]any {
	dnc := c.DoNotContact
	if dnc == nil {
		dnc = []MauticDNC{}
	}
	return map[string]any{"id": c.ID, "isPublished": true,
		"fields":       map[string]any{"all": map[string]any{"id": c.ID, "email": c.Email}},
		"doNotContact": dnc}
}

// likeRe turns a LIKE pattern into a regular expression.
func likeRe(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?i)^")
	for _, r := range pattern {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func (m *Mautic) list(w http.ResponseWriter, r *http.Request, _ bool) {
	search := r.URL.Query().Get("search")
	pattern, ok := strings.CutPrefix(search, "email:")
	if !ok {
		mauticError(w, http.StatusBadRequest, "bad_request", "the fake understands only search=email:...")
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 30
	}
	re := likeRe(pattern)
	found := map[string]any{}
	for _, c := range m.contacts {
		if re.MatchString(c.Email) && len(found) < limit {
			found[strconv.Itoa(c.ID)] = c.json()
		}
	}
	if len(found) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"total": 0, "contacts": []any{}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": strconv.Itoa(len(found)), "contacts": found})
}

func (m *Mautic) dnc(w http.ResponseWriter, r *http.Request, canEdit bool) {
	if !canEdit {
		mauticError(w, http.StatusForbidden, "access_denied", "You do not have access to the requested area/action.")
		return
	}
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 || id > len(m.contacts) {
		mauticError(w, http.StatusNotFound, "not_found", "Item was not found.")
		return
	}
	c, channel := m.contacts[id-1], r.PathValue("channel")
	var body struct {
		Reason   *int   `json:"reason"`
		Comments string `json:"comments"`
	}
	json.NewDecoder(r.Body).Decode(&body)
	kept := c.DoNotContact[:0]
	found := false
	for _, d := range c.DoNotContact {
		if d.Channel == channel {
			found = true
			continue
		}
		kept = append(kept, d)
	}
	c.DoNotContact = kept
	switch r.PathValue("op") {
	case "add":
		reason := 3 // Mautic's default: manual
		if body.Reason != nil {
			reason = *body.Reason
		}
		c.DoNotContact = append(c.DoNotContact, MauticDNC{Reason: reason, Comments: body.Comments, Channel: channel})
		writeJSON(w, http.StatusOK, map[string]any{"contact": c.json()})
	case "remove":
		writeJSON(w, http.StatusOK, map[string]any{"recordFound": found, "contact": c.json()})
	default:
		mauticError(w, http.StatusNotFound, "not_found", "Item was not found.")
	}
}
