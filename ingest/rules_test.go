package ingest

import (
	"context"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/classify"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// A delivery report must come from <>: from any other sender its hard,
// soft and delivered verdicts are evidence only (unless a signature binds
// them, or the sender is a known bouncing MTA); complaints and
// auto-replies come from real senders and count.
func TestNullSenderRule(t *testing.T) {
	signer := testSigner(t)
	signed, err := signer.Sign("bounces@news.example.com", "alice@example.org", t0)
	if err != nil {
		t.Fatal(err)
	}
	verdicts := []classify.Verdict{
		{Recipient: "alice@example.org", Class: classify.Hard},
		{Recipient: "bob@example.org", Class: classify.Soft},
		{Recipient: "carol@example.org", Class: classify.Complaint},
		{Recipient: "dave@example.org", Class: classify.AutoReply},
		{Recipient: "erin@example.org", Class: classify.Delivered},
	}
	tests := []struct {
		name, from, to string
		bounceSenders  []string
		wantAdvisory   []string // recipients whose observation is advisory
	}{
		{"null sender", "", "bounces@news.example.com", nil, nil},
		{"real sender", "mallory@evil.example", "bounces@news.example.com", nil,
			[]string{"alice@example.org", "bob@example.org", "erin@example.org"}},
		{"real sender, known bouncing MTA", "MAILER-DAEMON@old.example", "bounces@news.example.com",
			[]string{"mailer-daemon@old.example"}, nil},
		{"real sender, known bouncing domain", "postmaster@old.example", "bounces@news.example.com",
			[]string{"@old.example"}, nil},
		{"real sender, another domain listed", "postmaster@evil.example", "bounces@news.example.com",
			[]string{"@old.example"}, []string{"alice@example.org", "bob@example.org", "erin@example.org"}},
		// The signature binds the verdict naming alice; the others lose
		// their recipient (bind), so nothing advisory is left to count.
		{"real sender, signed return path", "mallory@evil.example", signed, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			s := newSink(t, rec, func([]byte, classify.Input) []classify.Verdict { return append([]classify.Verdict(nil), verdicts...) })
			s.Signer, s.BounceSenders = signer, tt.bounceSenders
			if err := s.Deliver(context.Background(), Envelope{From: tt.from, To: []string{tt.to}}, []byte("x")); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range rec.msgs[0].Observations {
				if o.Advisory {
					got = append(got, o.Recipient)
					if !strings.Contains(o.Detail, "not the null sender") {
						t.Errorf("advisory observation %+v does not say why", o)
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.wantAdvisory, ",") {
				t.Errorf("advisory for %q, want %q (observations %+v)", got, tt.wantAdvisory, rec.msgs[0].Observations)
			}
		})
	}
}

// One message counts at most once per recipient.
func TestOncePerRecipient(t *testing.T) {
	rec := &recorder{}
	s := newSink(t, rec, func([]byte, classify.Input) []classify.Verdict {
		return []classify.Verdict{
			{Recipient: "Alice@example.org", Class: classify.Hard},
			{Recipient: "alice@EXAMPLE.org", Class: classify.Delayed},
			{Recipient: "bob@example.org", Class: classify.Hard},
		}
	})
	if err := s.Deliver(context.Background(), Envelope{To: []string{"bounces@x.example"}}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	obs := rec.msgs[0].Observations
	if len(obs) != 3 || obs[0].Recipient != "Alice@example.org" || obs[1].Recipient != "" || obs[2].Recipient != "bob@example.org" ||
		!strings.Contains(obs[1].Detail, "another verdict of this message about alice@example.org counts") {
		t.Errorf("observations %+v, want the second about alice kept without a recipient", obs)
	}
	// A signed return path and a report naming two others: one verdict
	// for the signed recipient, not two.
	signer := testSigner(t)
	signed, _ := signer.Sign("bounces@news.example.com", "carol@example.org", t0)
	rec = &recorder{}
	s = newSink(t, rec, func([]byte, classify.Input) []classify.Verdict {
		return []classify.Verdict{{Recipient: "x@example.net", Class: classify.Hard}, {Recipient: "y@example.net", Class: classify.Hard}}
	})
	s.Signer = signer
	if err := s.Deliver(context.Background(), Envelope{To: []string{signed}}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range rec.msgs[0].Observations {
		if o.Recipient == "carol@example.org" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("observations %+v: %d for the signed recipient, want 1", rec.msgs[0].Observations, n)
	}
}

// Fifty case variants of one signed return path are one recipient, and
// the message is classified once.
func TestCaseVariantsClassifyOnce(t *testing.T) {
	signer := testSigner(t)
	signed, _ := signer.Sign("bounces@news.example.com", "alice@example.org", t0)
	var to []string
	for i := range 50 {
		b := []byte(signed)
		for j := range b {
			if i>>(j%6)&1 == 1 {
				b[j] = strings.ToUpper(string(b[j]))[0]
			}
		}
		to = append(to, string(b))
	}
	calls := 0
	rec := &recorder{}
	s := newSink(t, rec, func([]byte, classify.Input) []classify.Verdict {
		calls++
		return []classify.Verdict{{Recipient: "alice@example.org", Class: classify.Hard}}
	})
	s.Signer = signer
	if err := s.Deliver(context.Background(), Envelope{To: to}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if calls != 1 || len(rec.msgs[0].Observations) != 1 {
		t.Errorf("classified %d times, %d observations; want 1 and 1", calls, len(rec.msgs[0].Observations))
	}
}

// Classification has a deadline: past it the message is kept with what
// the classifier had; when the caller's context ends (the client left,
// shutdown), nothing is stored.
func TestClassifyDeadlineAndCancel(t *testing.T) {
	slow := func(ctx context.Context, raw []byte, in classify.Input) []classify.Verdict {
		<-ctx.Done() // the hostile message: the classifier runs until stopped
		return []classify.Verdict{{Recipient: in.VERPRecipient, Class: classify.Unknown, Evidence: classify.Evidence{Rule: "cancelled"}}}
	}
	env := Envelope{To: []string{"bounces+alice=example.org@x.example"}}
	rec := &recorder{}
	s := newSink(t, rec, nil)
	s.Classify, s.ClassifyTimeout = slow, 50*time.Millisecond
	if err := s.Deliver(context.Background(), env, []byte("x")); err != nil {
		t.Fatalf("past the deadline: %v, want the message kept", err)
	}
	if len(rec.msgs) != 1 || rec.msgs[0].Observations[0].Rule != "cancelled" || rec.msgs[0].Observations[0].Recipient != "alice@example.org" {
		t.Errorf("recorded %+v, want the cancelled verdict for alice", rec.msgs)
	}

	s.ClassifyTimeout = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if err := s.Deliver(ctx, env, []byte("y")); !errors.Is(err, ErrAbandoned) {
		t.Errorf("cancelled: %v, want ErrAbandoned", err)
	}
	if len(rec.msgs) != 1 {
		t.Errorf("recorded %d messages, want the cancelled one not stored", len(rec.msgs))
	}
}

// The same message received twice (an MTA that never saw our 250) is
// acknowledged both times and counts once, in the store and in Recorded.
func TestDeliverTwiceCountsOnce(t *testing.T) {
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "b.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := newSink(t, nil, func([]byte, classify.Input) []classify.Verdict {
		return []classify.Verdict{{Recipient: "alice@example.org", Class: classify.Hard}}
	})
	s.Store = db
	told := 0
	s.Recorded = func([]store.Observation) { told++ }
	env := Envelope{To: []string{"bounces+alice=example.org@x.example"}}
	for _, raw := range []string{"Subject: x\r\n\r\nbounce\r\n", "Subject: x\r\n\r\nbounce\r\n", "Subject: x\n\nbounce\n"} {
		if err := s.Deliver(context.Background(), env, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	r, events, err := db.Recipient(context.Background(), "alice@example.org")
	if err != nil || len(events) != 1 || r.Counts["hard"] != 1 || r.Suppressed || told != 1 {
		t.Errorf("after one bounce sent three times: %+v, %d events, told %d, %v; want it counted once", r, len(events), told, err)
	}
	// Another envelope or other bytes are another message.
	if err := s.Deliver(context.Background(), env, []byte("Subject: y\r\n\r\nbounce\r\n")); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := db.Recipient(context.Background(), "alice@example.org"); r.Counts["hard"] != 2 || !r.Suppressed {
		t.Errorf("after a second, different bounce: %+v, want two hard bounces and suppressed", r)
	}
}

func TestDigest(t *testing.T) {
	env := Envelope{From: "", To: []string{"b+alice=example.org@x.example", "b+bob=example.org@x.example"}}
	raw := []byte("Subject: x\r\n\r\nbody\r\n")
	same := []struct {
		name string
		env  Envelope
		raw  string
	}{
		{"identical", env, string(raw)},
		{"LF line ends", env, "Subject: x\n\nbody\n"},
		{"recipients reordered and cased", Envelope{To: []string{"B+BOB=example.org@x.example", "b+alice=example.org@x.example"}}, string(raw)},
		{"a recipient twice", Envelope{To: append(env.To, env.To[0])}, string(raw)},
	}
	want := digest(env, raw)
	for _, tt := range same {
		if got := digest(tt.env, []byte(tt.raw)); string(got) != string(want) {
			t.Errorf("%s: digest differs", tt.name)
		}
	}
	other := []struct {
		name string
		env  Envelope
		raw  string
	}{
		{"another sender", Envelope{From: "mailer-daemon@x.example", To: env.To}, string(raw)},
		{"another recipient", Envelope{To: env.To[:1]}, string(raw)},
		{"other bytes", env, "Subject: x\r\n\r\nbody.\r\n"},
		{"a recipient moved into the sender", Envelope{From: env.To[0], To: env.To[1:]}, string(raw)},
	}
	for _, tt := range other {
		if got := digest(tt.env, []byte(tt.raw)); string(got) == string(want) {
			t.Errorf("%s: same digest", tt.name)
		}
	}
}

// A digest never changes from one version to the next: the store keeps
// the digests of the messages it has, and a message sent again after an
// upgrade must still be found a duplicate.
func TestDigestIsStable(t *testing.T) {
	env := Envelope{From: "MAILER-DAEMON@Example.NET", To: []string{"Bounces+b=example.org@Sink.example", " bounces+a=example.org@sink.example", "bounces+a=example.org@sink.example"}}
	long := strings.Repeat("a long line of a quoted message; ", 200)
	for _, tt := range []struct {
		env  Envelope
		raw  string
		want string
	}{
		{env, "Subject: x\r\nFrom: y\n\r\nline one\r\nline two\rstill two\r\n\r\nlast line without end",
			"853647da1bf18110c35a554a3fbf39ba2a6c3ae78264c1dc33775cdc31052cbc"},
		{Envelope{}, "", "334f48a1792876629568467ce15fc9090034fdbae45ae50713ab6b8f68071f6d"},
		{env, strings.Repeat("short\r\n", 700) + long + "\r\n" + long + "\r\nend\r\n",
			"580e3047c675a45a60ed1a9e9615309ecafe868d175dbe318db9a14f9ff12918"},
	} {
		if got := hex.EncodeToString(digest(tt.env, []byte(tt.raw))); got != tt.want {
			t.Errorf("digest of %q: %s, want %s", limitTo(tt.raw, 60), got, tt.want)
		}
	}
}

func limitTo(s string, n int) string { return s[:min(len(s), n)] }
