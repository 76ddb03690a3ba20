package ingest

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/bouncesink/bouncesink/classify"
	"github.com/bouncesink/bouncesink/store"
)

// recorder is a store.Writer that keeps what it is given.
type recorder struct {
	msgs []store.Message
	err  error
}

func (r *recorder) Record(ctx context.Context, m store.Message) (uint64, error) {
	if r.err != nil {
		return 0, r.err
	}
	r.msgs = append(r.msgs, m)
	return uint64(len(r.msgs)), nil
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newSink(t *testing.T, w store.Writer, fn func([]byte, classify.Input) []classify.Verdict) *Sink {
	return &Sink{
		Store:         w,
		Now:           func() time.Time { return t0 },
		VERPSeparator: "+",
		Logger:        slog.New(slog.NewTextHandler(tlog{t}, nil)),
		Classify: func(_ context.Context, raw []byte, in classify.Input) []classify.Verdict {
			return fn(raw, in)
		},
	}
}

type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func TestDeliverMapsVerdictsToOneRecord(t *testing.T) {
	var inputs []classify.Input
	fn := func(raw []byte, in classify.Input) []classify.Verdict {
		inputs = append(inputs, in)
		return []classify.Verdict{{
			Recipient: "alice@example.org", Class: classify.Hard, Reason: "user_unknown",
			Status: "5.1.1", SMTPCode: 550, Action: "failed", Diagnostic: "smtp; 550 5.1.1 no such user",
			RemoteMTA: "mx.example.org", ReportingMTA: "mta.example.com", FeedbackType: "",
			Evidence: classify.Evidence{Decoder: "rfc3464", Rule: "status-5.1.1", Detail: "d"},
		}}
	}
	rec := &recorder{}
	s := newSink(t, rec, fn)
	env := Envelope{From: "", To: []string{"bounces+alice=example.org@news.example.com"}, ID: "m1"}
	if err := s.Deliver(context.Background(), env, []byte("raw bytes")); err != nil {
		t.Fatal(err)
	}

	wantIn := []classify.Input{{EnvelopeRecipient: "bounces+alice=example.org@news.example.com",
		VERPRecipient: "alice@example.org", Now: t0}}
	if !reflect.DeepEqual(inputs, wantIn) {
		t.Errorf("classifier inputs = %+v, want %+v", inputs, wantIn)
	}
	want := []store.Message{{
		Received: t0, EnvelopeFrom: "", EnvelopeTo: env.To, Raw: []byte("raw bytes"), Digest: digest(env, []byte("raw bytes")),
		Observations: []store.Observation{{
			Recipient: "alice@example.org", Class: "hard", Reason: "user_unknown", Status: "5.1.1",
			SMTPCode: 550, Action: "failed", Diagnostic: "smtp; 550 5.1.1 no such user",
			RemoteMTA: "mx.example.org", Decoder: "rfc3464", Rule: "status-5.1.1", Detail: "d",
		}},
	}}
	if !reflect.DeepEqual(rec.msgs, want) {
		t.Errorf("recorded %+v\nwant %+v", rec.msgs, want)
	}
}

// A message is classified once, whatever its envelope recipients; each
// recipient a return path names gets the verdict once.
func TestDeliverClassifiesOncePerMessage(t *testing.T) {
	tests := []struct {
		name    string
		to      []string
		wantIn  []string // VERP recipients the classifier saw
		wantObs []string // recipients of the observations
	}{
		{"plain return path", []string{"bounces@news.example.com"}, []string{""}, []string{"carol@example.net"}},
		{"no envelope", nil, []string{""}, []string{"carol@example.net"}},
		{"same tag twice", []string{"b+alice=example.org@x.example", "b+alice=example.org@y.example"},
			[]string{"alice@example.org"}, []string{"alice@example.org"}},
		{"same tag in other cases", []string{"b+alice=example.org@x.example", "B+ALICE=Example.ORG@X.example", "b+Alice=example.org@x.example"},
			[]string{"alice@example.org"}, []string{"alice@example.org"}},
		// Two return paths naming two recipients: no single hint; the
		// report names neither, so each gets the verdict.
		{"two tags", []string{"b+alice=example.org@x.example", "b+bob=example.org@x.example"},
			[]string{""}, []string{"alice@example.org", "bob@example.org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []string
			fn := func(raw []byte, in classify.Input) []classify.Verdict {
				seen = append(seen, in.VERPRecipient)
				return []classify.Verdict{{Recipient: "carol@example.net", Class: classify.Soft}}
			}
			rec := &recorder{}
			if err := newSink(t, rec, fn).Deliver(context.Background(), Envelope{To: tt.to}, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(seen, tt.wantIn) {
				t.Errorf("classified for %q, want %q", seen, tt.wantIn)
			}
			if len(rec.msgs) != 1 {
				t.Fatalf("recorded %+v, want one message", rec.msgs)
			}
			var got []string
			for _, o := range rec.msgs[0].Observations {
				got = append(got, o.Recipient)
			}
			if !reflect.DeepEqual(got, tt.wantObs) {
				t.Errorf("observations for %q, want %q", got, tt.wantObs)
			}
		})
	}
}

func TestDeliverPassesVerdictsWithoutRecipient(t *testing.T) {
	fn := func(raw []byte, in classify.Input) []classify.Verdict {
		return []classify.Verdict{{Class: classify.Unknown}, {Recipient: "not an address", Class: classify.Hard}}
	}
	rec := &recorder{}
	if err := newSink(t, rec, fn).Deliver(context.Background(), Envelope{To: []string{"bounces@x.example"}}, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	// The store decides what it can file under a recipient; ingest must not
	// fail or drop the message over a verdict it cannot key.
	if len(rec.msgs) != 1 || string(rec.msgs[0].Raw) != "garbage" || len(rec.msgs[0].Observations) != 2 {
		t.Errorf("recorded %+v, want the raw message with both verdicts", rec.msgs)
	}
}

func TestDeliverSurvivesClassifierPanic(t *testing.T) {
	fn := func(raw []byte, in classify.Input) []classify.Verdict { panic("boom") }
	rec := &recorder{}
	env := Envelope{To: []string{"bounces+alice=example.org@x.example"}}
	if err := newSink(t, rec, fn).Deliver(context.Background(), env, []byte("x")); err != nil {
		t.Fatal(err)
	}
	obs := rec.msgs[0].Observations
	if len(obs) != 1 || obs[0].Recipient != "alice@example.org" || obs[0].Class != "unknown" {
		t.Errorf("observations = %+v, want one unknown verdict for the VERP recipient", obs)
	}
}

func TestDeliverReturnsStoreError(t *testing.T) {
	boom := errors.New("disk on fire")
	rec := &recorder{err: boom}
	fn := func([]byte, classify.Input) []classify.Verdict { return nil }
	err := newSink(t, rec, fn).Deliver(context.Background(), Envelope{}, []byte("x"))
	if !errors.Is(err, boom) {
		t.Errorf("Deliver = %v, want it to wrap %v", err, boom)
	}
}
