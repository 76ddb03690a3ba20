package fakeapps

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Listmonk is a FAKE of listmonk 6.2.0's bounce webhook (POST
// /webhooks/bounce) and of its "blocklist subscribers by query" API (PUT
// /api/subscribers/query/blocklist), built from listmonk's API
// documentation and from what a real listmonk 6.2.0 on PostgreSQL 15 was
// seen to answer:
//   - 200 {"data":true} is sent before the bounce is written (here: by a
//     goroutine after the answer; Settle waits for it);
//   - an unknown address also gets 200, and nothing is recorded;
//   - a type other than hard, soft or complaint gets 400, as does a body
//     that is not JSON, one with neither email nor subscriber_uuid, or a
//     malformed subscriber_uuid;
//   - bad or missing credentials, and a role without the permission, get
//     403 (not 401);
//   - bounce processing off gives 503; bounce webhooks off gives 404 (the
//     route does not exist);
//   - source is not checked; unknown fields are ignored.
//
// The query API needs subscribers:sql_query (403 without it) and, since
// v6.1, answers 200 {"data":true} and changes nothing when the role lacks
// subscribers:get_all. Errors are listmonk's JSON {"message": "..."}; the
// exact texts are not listmonk's.
//
// What it leaves out: bounce actions (the count and action per type), the
// rest of the API, the database.
type Listmonk struct {
	server
	// The settings: Settings -> Bounces.
	BounceProcessing, BounceWebhooks bool
	users                            map[string]ListmonkUser // by "user:token"
	subscribers                      []*ListmonkSubscriber
	campaigns                        map[string]*ListmonkCampaign // by UUID
	bounces                          []ListmonkBounce
	// pending counts the bounces answered and not yet written, under mu;
	// written is signalled when it drops. (A WaitGroup would not do: a
	// test may wait while a request adds.)
	pending int
	written *sync.Cond
}

// ListmonkUser is an API user and its role's permissions.
type ListmonkUser struct {
	Name, Token string
	Permissions []string // "webhooks:post_bounce", "subscribers:sql_query", ...
}

// ListmonkSubscriber is a subscriber.
type ListmonkSubscriber struct {
	ID     int
	UUID   string
	Email  string
	Status string // enabled, blocklisted
}

// ListmonkCampaign is a campaign and its bounce count (its stats).
type ListmonkCampaign struct {
	UUID    string
	Name    string
	Bounces int
}

// ListmonkBounce is a bounce record as listmonk keeps it.
type ListmonkBounce struct {
	SubscriberID int
	CampaignUUID string // "" when the bounce names no known campaign
	Type         string
	Source       string
	Meta         json.RawMessage
	CreatedAt    time.Time
}

// NewListmonk starts a fake listmonk with bounce processing and bounce
// webhooks on, and these users.
func NewListmonk(logf Logf, users ...ListmonkUser) *Listmonk {
	l := &Listmonk{BounceProcessing: true, BounceWebhooks: true, users: map[string]ListmonkUser{},
		campaigns: map[string]*ListmonkCampaign{}}
	l.written = sync.NewCond(&l.mu)
	for _, u := range users {
		l.users[u.Name+":"+u.Token] = u
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/bounce", l.bounce)
	mux.HandleFunc("PUT /api/subscribers/query/blocklist", l.blocklistByQuery)
	l.srv = httptest.NewServer(transcript("listmonk", logf, mux))
	return l
}

// AddSubscriber adds a subscriber (enabled).
func (l *Listmonk) AddSubscriber(uuid, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.subscribers = append(l.subscribers, &ListmonkSubscriber{ID: len(l.subscribers) + 1, UUID: uuid, Email: strings.ToLower(email), Status: "enabled"})
}

// AddCampaign adds a campaign.
func (l *Listmonk) AddCampaign(uuid, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.campaigns[strings.ToLower(uuid)] = &ListmonkCampaign{UUID: uuid, Name: name}
}

// SetSettings turns bounce processing and bounce webhooks on or off.
func (l *Listmonk) SetSettings(processing, webhooks bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.BounceProcessing, l.BounceWebhooks = processing, webhooks
}

// Settle waits until every bounce answered is written.
func (l *Listmonk) Settle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.pending > 0 {
		l.written.Wait()
	}
}

// Bounces returns the bounce records, oldest first.
func (l *Listmonk) Bounces() []ListmonkBounce {
	l.Settle()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ListmonkBounce(nil), l.bounces...)
}

// Subscriber returns the subscriber with this id.
func (l *Listmonk) Subscriber(id int) ListmonkSubscriber {
	l.mu.Lock()
	defer l.mu.Unlock()
	return *l.subscribers[id-1]
}

// Campaign returns the campaign with this UUID.
func (l *Listmonk) Campaign(uuid string) ListmonkCampaign {
	l.Settle()
	l.mu.Lock()
	defer l.mu.Unlock()
	return *l.campaigns[strings.ToLower(uuid)]
}

func listmonkError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// user returns the API user of the request's credentials: "token
// user:token", or HTTP Basic with the same pair.
func (l *Listmonk) user(r *http.Request) (ListmonkUser, bool) {
	h := r.Header.Get("Authorization")
	pair, ok := strings.CutPrefix(h, "token ")
	if !ok {
		if b64, basic := strings.CutPrefix(h, "Basic "); basic {
			b, err := base64.StdEncoding.DecodeString(b64)
			pair, ok = string(b), err == nil
		}
	}
	u, known := l.users[pair]
	return u, ok && known
}

func (u ListmonkUser) may(perm string) bool {
	for _, p := range u.Permissions {
		if p == perm {
			return true
		}
	}
	return false
}

var reUUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (l *Listmonk) bounce(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.BounceWebhooks {
		listmonkError(w, http.StatusNotFound, "Not Found") // the route is not registered
		return
	}
	u, ok := l.user(r)
	if !ok || !u.may("webhooks:post_bounce") {
		listmonkError(w, http.StatusForbidden, "Permission denied")
		return
	}
	if !l.BounceProcessing {
		listmonkError(w, http.StatusServiceUnavailable, "Bounce processing is disabled")
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var b struct {
		Email          string          `json:"email"`
		SubscriberUUID string          `json:"subscriber_uuid"`
		CampaignUUID   string          `json:"campaign_uuid"`
		Source         string          `json:"source"`
		Type           string          `json:"type"`
		Meta           json.RawMessage `json:"meta"`
		CreatedAt      time.Time       `json:"created_at"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		listmonkError(w, http.StatusBadRequest, "Invalid data: "+err.Error())
		return
	}
	switch {
	case b.Email == "" && b.SubscriberUUID == "":
		listmonkError(w, http.StatusBadRequest, "Invalid email / subscriber_uuid")
		return
	case b.SubscriberUUID != "" && !reUUID.MatchString(b.SubscriberUUID):
		listmonkError(w, http.StatusBadRequest, "Invalid subscriber_uuid")
		return
	case b.Type != "hard" && b.Type != "soft" && b.Type != "complaint":
		listmonkError(w, http.StatusBadRequest, "Invalid type")
		return
	}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = time.Now()
	}
	writeJSON(w, http.StatusOK, map[string]bool{"data": true})
	// listmonk answers first and writes the bounce afterwards.
	l.pending++ // under mu, as Settle reads it
	go func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		defer func() {
			l.pending--
			l.written.Broadcast()
		}()
		var sub *ListmonkSubscriber
		for _, s := range l.subscribers {
			if (b.SubscriberUUID != "" && strings.EqualFold(s.UUID, b.SubscriberUUID)) ||
				(b.SubscriberUUID == "" && s.Email == strings.ToLower(b.Email)) {
				sub = s
			}
		}
		if sub == nil {
			return // an unknown subscriber: nothing is recorded
		}
		rec := ListmonkBounce{SubscriberID: sub.ID, Type: b.Type, Source: b.Source, Meta: b.Meta, CreatedAt: b.CreatedAt}
		if c := l.campaigns[strings.ToLower(b.CampaignUUID)]; c != nil {
			c.Bounces++
			rec.CampaignUUID = c.UUID
		}
		l.bounces = append(l.bounces, rec)
	}()
}

var reEmailQuery = regexp.MustCompile(`^LOWER\(subscribers\.email\) = '((?:[^']|'')*)'$`)

func (l *Listmonk) blocklistByQuery(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	u, ok := l.user(r)
	if !ok || !u.may("subscribers:sql_query") {
		listmonkError(w, http.StatusForbidden, "Permission denied")
		return
	}
	var body struct {
		Query string `json:"query"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		listmonkError(w, http.StatusBadRequest, "Invalid data")
		return
	}
	if !u.may("subscribers:get_all") {
		// Since v6.1 the query is limited to the lists the role may get:
		// with none, it matches nothing, and listmonk says it went well.
		writeJSON(w, http.StatusOK, map[string]bool{"data": true})
		return
	}
	m := reEmailQuery.FindStringSubmatch(body.Query)
	if m == nil {
		listmonkError(w, http.StatusBadRequest, "the fake understands only LOWER(subscribers.email) = '...'")
		return
	}
	addr := strings.ReplaceAll(m[1], "''", "'")
	for _, s := range l.subscribers {
		if s.Email == addr {
			s.Status = "blocklisted"
		}
	}
	writeJSON(w, http.StatusOK, map[string]bool{"data": true})
}
