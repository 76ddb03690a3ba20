package main

import (
	"github.com/bouncesink/bouncesink/store"
	"github.com/bouncesink/bouncesink/store/boltstore"
)

// openStore opens the store engine that sc configures, deciding with
// policy (the zero Policy for store.DefaultPolicy). It is the one place
// that knows the engines; everything else uses the store.Store contract.
func openStore(sc StoreConfig, policy store.Policy) (store.Store, error) {
	db, err := boltstore.Open(sc.Path, boltstore.Options{Policy: policy})
	if err != nil {
		return nil, err
	}
	return db, nil
}
