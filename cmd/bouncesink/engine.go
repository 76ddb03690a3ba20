package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
	"github.com/bouncesink/bouncesink/store/pgstore"
)

// openStore opens the store engine that sc configures, deciding with
// policy (the zero Policy for store.DefaultPolicy). It is the one place
// that knows the engines; everything else uses the store.Store contract.
func openStore(sc StoreConfig, policy store.Policy) (store.Store, error) {
	if err := sc.check(); err != nil {
		return nil, err
	}
	switch sc.Engine {
	case enginePostgres:
		dsn, err := sc.dsn()
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return pgstore.Open(ctx, dsn, pgstore.Options{Policy: policy})
	default:
		db, err := boltstore.Open(sc.Path, boltstore.Options{Policy: policy, DigestIndexSize: sc.DuplicateIndexSize})
		if err != nil {
			return nil, err
		}
		return db, nil
	}
}

// check reports what is wrong with the [store] section.
func (sc StoreConfig) check() error {
	switch sc.Engine {
	case "", engineBolt:
		if sc.Path == "" {
			return fmt.Errorf("store.path is empty")
		}
	case enginePostgres:
		if (sc.DSN == "") == (sc.DSNEnv == "") {
			return fmt.Errorf("store.engine postgres: set store.dsn or store.dsn_env (one of them)")
		}
	default:
		return fmt.Errorf("store.engine %q: want %q or %q", sc.Engine, engineBolt, enginePostgres)
	}
	return nil
}

// dsn returns the PostgreSQL DSN, from the config or its environment
// variable.
func (sc StoreConfig) dsn() (string, error) {
	if sc.DSNEnv == "" {
		return sc.DSN, nil
	}
	dsn := os.Getenv(sc.DSNEnv)
	if dsn == "" {
		return "", fmt.Errorf("store.dsn_env: environment variable %s is empty or unset", sc.DSNEnv)
	}
	return dsn, nil
}

// describe names the store for logs, without a password.
func (sc StoreConfig) describe() string {
	if sc.Engine != enginePostgres {
		return engineBolt + ":" + sc.Path
	}
	if sc.DSNEnv != "" {
		return enginePostgres + ":$" + sc.DSNEnv
	}
	return enginePostgres + ":" + redactDSN(sc.DSN)
}

// redactDSN hides the password of a URL or key=value DSN.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndexByte(dsn, '@'); at > i {
			if c := strings.IndexByte(dsn[i+3:at], ':'); c >= 0 {
				return dsn[:i+3+c] + ":xxxxx" + dsn[at:]
			}
		}
		return dsn
	}
	var out []string
	for f := range strings.FieldsSeq(dsn) {
		if strings.HasPrefix(f, "password=") {
			f = "password=xxxxx"
		}
		out = append(out, f)
	}
	return strings.Join(out, " ")
}

// parseStoreSpec reads ENGINE:WHERE, as migrate takes it: bbolt:PATH or
// postgres:DSN (postgres://... alone is taken as postgres too).
func parseStoreSpec(spec string) (StoreConfig, error) {
	switch {
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return StoreConfig{Engine: enginePostgres, DSN: spec}, nil
	case strings.HasPrefix(spec, engineBolt+":"):
		return StoreConfig{Engine: engineBolt, Path: strings.TrimPrefix(spec, engineBolt+":")}, nil
	case strings.HasPrefix(spec, enginePostgres+":"):
		return StoreConfig{Engine: enginePostgres, DSN: strings.TrimPrefix(spec, enginePostgres+":")}, nil
	}
	return StoreConfig{}, fmt.Errorf("%q: want bbolt:PATH or postgres:DSN", spec)
}
