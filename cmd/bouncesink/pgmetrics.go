package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bouncesink/bouncesink/store/pgstore"
)

// pgCollector exposes the postgres engine's connection pool and query
// latencies at scrape time.
type pgCollector struct{ db *pgstore.DB }

var (
	descPoolConns = prometheus.NewDesc("bouncesink_pg_pool_connections",
		"Connections of the PostgreSQL pool, by state (in use, idle) and the most it may open.", []string{"state"}, nil)
	descPoolAcquires = prometheus.NewDesc("bouncesink_pg_pool_acquires_total",
		"Connections taken from the pool; waited: those that had to wait for one.", []string{"kind"}, nil)
	descPoolWait = prometheus.NewDesc("bouncesink_pg_pool_acquire_wait_seconds_total",
		"Time spent waiting for a pool connection.", nil, nil)
	descQueries = prometheus.NewDesc("bouncesink_pg_query_seconds",
		"Latency of the statements (and batches of statements, as one) sent to PostgreSQL.", nil, nil)
	descCommits = prometheus.NewDesc("bouncesink_pg_record_transactions_total",
		"Record transactions (group commits) run, and the messages they carried.", []string{"what"}, nil)
	descRetries = prometheus.NewDesc("bouncesink_pg_retries_total",
		"Transactions retried after a serialization failure or a deadlock (SQLSTATE 40001, 40P01).", nil, nil)
)

func (c pgCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPoolConns, descPoolAcquires, descPoolWait, descQueries, descCommits, descRetries} {
		ch <- d
	}
}

func (c pgCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.db.Pool()
	ch <- prometheus.MustNewConstMetric(descPoolConns, prometheus.GaugeValue, float64(s.AcquiredConns()), "in_use")
	ch <- prometheus.MustNewConstMetric(descPoolConns, prometheus.GaugeValue, float64(s.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(descPoolConns, prometheus.GaugeValue, float64(s.MaxConns()), "max")
	ch <- prometheus.MustNewConstMetric(descPoolAcquires, prometheus.CounterValue, float64(s.AcquireCount()), "all")
	ch <- prometheus.MustNewConstMetric(descPoolAcquires, prometheus.CounterValue, float64(s.EmptyAcquireCount()), "waited")
	ch <- prometheus.MustNewConstMetric(descPoolWait, prometheus.CounterValue, s.AcquireDuration().Seconds())
	buckets, sum, count := c.db.Metrics().Queries()
	ch <- prometheus.MustNewConstHistogram(descQueries, count, sum, buckets)
	commits, messages, retries := c.db.Metrics().Commits()
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(commits), "transactions")
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(messages), "messages")
	ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(retries))
}
