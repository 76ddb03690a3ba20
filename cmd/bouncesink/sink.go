package main

import (
	"log/slog"
	"time"

	"github.com/bouncesink/bouncesink/ingest"
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/verp"
)

// newSink builds the ingestion pipeline from the configuration. serve and
// reclassify share it, so a stored message is judged on replay exactly as
// it would be on arrival.
// signer checks signed return paths (cfg.keySigner); nil means none.
func newSink(cfg Config, w store.Writer, signer *verp.Signer, now func() time.Time, log *slog.Logger) *ingest.Sink {
	return &ingest.Sink{Store: w, Now: now, VERPSeparator: cfg.SMTP.VERPSeparator, Logger: log, Signer: signer,
		BounceSenders: cfg.SMTP.BounceSenders, ClassifyTimeout: cfg.SMTP.ClassifyTimeout.Duration,
		RawQuota: cfg.Store.MaxRawBytes}
}
