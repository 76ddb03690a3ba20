package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bouncesink/bouncesink/api"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/webhook"
)

// metrics are the Prometheus collectors of one running server, all in one
// registry that the API serves at /metrics. The SMTP server, the
// ingestion pipeline and the store know nothing of Prometheus: they are
// observed through their hooks (smtpd.Options.Observer,
// ingest.Sink.Recorded) and a decorator around the store.Writer.
type metrics struct {
	reg      *prometheus.Registry
	api      *api.Metrics
	sessions prometheus.Counter
	replies  *prometheus.CounterVec
	verdicts *prometheus.CounterVec
	commit   prometheus.Histogram
	webhooks *prometheus.CounterVec // deliveries by endpoint and result
}

func newMetrics(stats func(context.Context) (store.Stats, error)) (*metrics, error) {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		sessions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bouncesink_smtp_sessions_total",
			Help: "SMTP sessions begun (at HELO or EHLO, and again after STARTTLS).",
		}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bouncesink_smtp_replies_total",
			Help: "SMTP replies to MAIL, RCPT and DATA, by command and reply code.",
		}, []string{"command", "code"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bouncesink_verdicts_total",
			Help: "Verdicts of the messages stored, by class and reason.",
		}, []string{"class", "reason"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bouncesink_store_commit_seconds",
			Help:    "Time to commit one received message with its verdicts to the database.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5ms .. 4s
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bouncesink_webhook_deliveries_total",
			Help: "Webhook delivery attempts by endpoint and result: sent (the endpoint took the entry), failed (retried) or dead_lettered (refused for good).",
		}, []string{"endpoint", "result"}),
	}
	cs := []prometheus.Collector{m.sessions, m.replies, m.verdicts, m.commit, m.webhooks,
		storeCollector{stats},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	var err error
	if m.api, err = api.NewMetrics(reg); err != nil {
		return nil, err
	}
	return m, nil
}

// SessionStarted and Replied make metrics an smtpd.Observer.
func (m *metrics) SessionStarted() { m.sessions.Inc() }

func (m *metrics) Replied(command string, code int) {
	m.replies.WithLabelValues(command, strconv.Itoa(code)).Inc()
}

// recorded is the ingest.Sink.Recorded hook.
func (m *metrics) recorded(obs []store.Observation) {
	for _, o := range obs {
		m.verdicts.WithLabelValues(o.Class, o.Reason).Inc()
	}
}

// timed wraps w so that every commit is timed, failed ones included.
func (m *metrics) timed(w store.Writer) store.Writer { return timedWriter{w, m.commit} }

type timedWriter struct {
	store.Writer
	h prometheus.Histogram
}

func (t timedWriter) Record(ctx context.Context, msg store.Message) (uint64, error) {
	start := time.Now()
	defer func() { t.h.Observe(time.Since(start).Seconds()) }()
	return t.Writer.Record(ctx, msg)
}

// storeCollector reads the store's counters at scrape time (store.Stats
// reads counters, not data, so a scrape costs the same on any size).
type storeCollector struct {
	stats func(context.Context) (store.Stats, error)
}

var (
	descSuppressions = prometheus.NewDesc("bouncesink_suppressions",
		"Addresses on the suppression list, by reason (hard, soft, complaint, manual).", []string{"reason"}, nil)
	descRecipients = prometheus.NewDesc("bouncesink_recipients",
		"Addresses the store has a record for.", nil, nil)
	descMessages = prometheus.NewDesc("bouncesink_messages_stored",
		"Messages in the database.", nil, nil)
)

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSuppressions
	ch <- descRecipients
	ch <- descMessages
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descSuppressions, err)
		return
	}
	for _, reason := range []string{"hard", "soft", "complaint", "manual"} {
		// Every reason, zero too, so that a rate or an alert has a series.
		ch <- prometheus.MustNewConstMetric(descSuppressions, prometheus.GaugeValue, float64(st.SuppressedByReason[reason]), reason)
	}
	for reason, n := range st.SuppressedByReason {
		switch reason {
		case "hard", "soft", "complaint", "manual":
		default:
			ch <- prometheus.MustNewConstMetric(descSuppressions, prometheus.GaugeValue, float64(n), reason)
		}
	}
	ch <- prometheus.MustNewConstMetric(descRecipients, prometheus.GaugeValue, float64(st.Recipients))
	ch <- prometheus.MustNewConstMetric(descMessages, prometheus.GaugeValue, float64(st.Messages))
}

// webhookObserver counts the webhook dispatcher's attempts.
func (m *metrics) webhookObserver() webhook.Observer { return webhookCounter{m.webhooks} }

type webhookCounter struct{ c *prometheus.CounterVec }

func (w webhookCounter) Delivered(endpoint string) { w.c.WithLabelValues(endpoint, "sent").Inc() }
func (w webhookCounter) Failed(endpoint string)    { w.c.WithLabelValues(endpoint, "failed").Inc() }
func (w webhookCounter) DeadLettered(endpoint string) {
	w.c.WithLabelValues(endpoint, "dead_lettered").Inc()
}

// watchWebhooks registers the gauges of d's endpoints, read at scrape
// time: nothing when no webhook is configured.
func (m *metrics) watchWebhooks(d *webhook.Dispatcher) error {
	if d == nil {
		return nil
	}
	if err := m.reg.Register(webhookCollector{d}); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

type webhookCollector struct{ d *webhook.Dispatcher }

var (
	descWebhookLag = prometheus.NewDesc("bouncesink_webhook_lag_seconds",
		"Age of the oldest audit entry a webhook endpoint has not yet dealt with; 0 when caught up.", []string{"endpoint"}, nil)
	descWebhookPosition = prometheus.NewDesc("bouncesink_webhook_position",
		"Sequence number of the last audit entry a webhook endpoint dealt with.", []string{"endpoint"}, nil)
	descWebhookDead = prometheus.NewDesc("bouncesink_webhook_dead_letters",
		"Entries a webhook endpoint refused for good, on its dead-letter list (all ever).", []string{"endpoint"}, nil)
)

func (c webhookCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descWebhookLag
	ch <- descWebhookPosition
	ch <- descWebhookDead
}

func (c webhookCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := c.d.Status(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descWebhookLag, err)
		return
	}
	for _, st := range list {
		ch <- prometheus.MustNewConstMetric(descWebhookLag, prometheus.GaugeValue, st.LagSeconds, st.Name)
		ch <- prometheus.MustNewConstMetric(descWebhookPosition, prometheus.GaugeValue, float64(st.Position), st.Name)
		ch <- prometheus.MustNewConstMetric(descWebhookDead, prometheus.GaugeValue, float64(st.DeadLetters), st.Name)
	}
}
