package fakeapps

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
)

// Keila is a FAKE of the contacts part of Keila's API (v1), built from
// Keila's API documentation:
//   - GET and PATCH /api/v1/contacts/{id}, where id_type=email makes the
//     path name the contact by its email; PATCH takes {"data": {...}} with
//     the fields to change, among them "status": "active", "unsubscribed"
//     or "unreachable", and both answer {"data": contact};
//   - the API key is sent as "Authorization: Bearer KEY"; a missing or
//     wrong key is refused (403 here: the documentation names no status);
//   - an unknown contact is 404, an invalid status 400, both with
//     {"errors": [{"status", "title"}]}.
//
// What it leaves out: every other endpoint and field, ids other than the
// email.
type Keila struct {
	server
	key      string
	contacts map[string]*KeilaContact // by email
}

// KeilaContact is a contact.
type KeilaContact struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Status string `json:"status"`
}

// NewKeila starts a fake Keila whose API key is key.
func NewKeila(logf Logf, key string) *Keila {
	k := &Keila{key: key, contacts: map[string]*KeilaContact{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/contacts/{id}", k.contact)
	mux.HandleFunc("PATCH /api/v1/contacts/{id}", k.contact)
	k.srv = httptest.NewServer(transcript("Keila", logf, mux))
	return k
}

// AddContact adds a contact with this status.
func (k *Keila) AddContact(email, status string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.contacts[email] = &KeilaContact{ID: "nc_" + strings.ReplaceAll(email, "@", "_"), Email: email, Status: status}
}

// Status returns the contact's status, "" for none.
func (k *Keila) Status(email string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c := k.contacts[email]; c != nil {
		return c.Status
	}
	return ""
}

func keilaError(w http.ResponseWriter, status int, title string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"status": http.StatusText(status), "title": title}}})
}

func (k *Keila) contact(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+k.key {
		keilaError(w, http.StatusForbidden, "Forbidden")
		return
	}
	if r.URL.Query().Get("id_type") != "email" {
		keilaError(w, http.StatusNotFound, "Not found") // the fake knows contacts by email only
		return
	}
	c := k.contacts[r.PathValue("id")]
	if c == nil {
		keilaError(w, http.StatusNotFound, "Not found")
		return
	}
	if r.Method == http.MethodPatch {
		var body struct {
			Data struct {
				Status *string `json:"status"`
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			keilaError(w, http.StatusBadRequest, "Bad request")
			return
		}
		if s := body.Data.Status; s != nil {
			switch *s {
			case "active", "unsubscribed", "unreachable":
				c.Status = *s
			default:
				keilaError(w, http.StatusBadRequest, "status is invalid")
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": c})
}
