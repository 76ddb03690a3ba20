package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/bouncesink/bouncesink/verp"
)

// cmdVERP signs and checks return paths with the [verp] keys of the config:
//
//	bouncesink verp sign [--config FILE] [--return-path ADDR] ADDR...
//	bouncesink verp verify [--config FILE] ADDR...
func cmdVERP(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: bouncesink verp sign [--config FILE] [--return-path ADDR] RECIPIENT...\n"+
			"       bouncesink verp verify [--config FILE] RETURN-PATH...")
	}
	if len(args) == 0 || (args[0] != "sign" && args[0] != "verify") {
		usage()
		return 2
	}
	op := args[0]
	fs := flag.NewFlagSet("verp "+op, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(); fs.PrintDefaults() }
	configPath := fs.String("config", "", "TOML config `file` with the [verp] keys")
	returnPath := fs.String("return-path", "", "base return `address` to sign (default: the first smtp.accept entry, \"bounces\" for a domain)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg, ok := configure(*configPath, nil, stderr)
	if !ok {
		return 2
	}
	// sign may make the key file serve would make at its first start;
	// verify has nothing to check against without one.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	signer, err := cfg.keySigner(op == "sign", log)
	if err != nil {
		fmt.Fprintln(stderr, "bouncesink verp:", err)
		return 2
	}
	if signer == nil {
		fmt.Fprintf(stderr, "bouncesink verp: no keys: [verp] keys is empty and there is no key file %s "+
			"(bouncesink serve or verp sign creates it); see configs/bouncesink.toml\n", cfg.keyFile())
		return 2
	}

	status := 0
	for _, addr := range fs.Args() {
		if op == "sign" {
			base := *returnPath
			if base == "" {
				base = defaultReturnPath(cfg.SMTP.Accept)
			}
			signed, err := signer.Sign(base, addr, now())
			if err != nil {
				fmt.Fprintln(stderr, "bouncesink verp sign:", err)
				status = 1
				continue
			}
			fmt.Fprintln(stdout, signed)
			continue
		}
		sg, err := signer.Verify(addr, now())
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "%s\tvalid\trecipient=%s\tkey=%s\texpires=%s\n", addr, recipientOrHash(sg), sg.KeyID,
				sg.Expires.Format(time.RFC3339))
		case errors.Is(err, verp.ErrExpired):
			fmt.Fprintf(stdout, "%s\texpired\trecipient=%s\tkey=%s\texpired=%s\n", addr, recipientOrHash(sg), sg.KeyID,
				sg.Expires.Format(time.RFC3339))
			status = 1
		default:
			fmt.Fprintf(stdout, "%s\tinvalid\t%s\n", addr, strings.TrimPrefix(err.Error(), "verp: "))
			status = 1
		}
	}
	return status
}

func recipientOrHash(sg verp.Signed) string {
	if sg.Recipient == "" {
		return "(hash only)"
	}
	return sg.Recipient
}

// defaultReturnPath is the first accepted return path: an exact address as
// it is, a domain as bounces@domain.
func defaultReturnPath(accept []string) string {
	if len(accept) == 0 {
		return "bounces@localhost"
	}
	if e := accept[0]; strings.HasPrefix(e, "@") {
		return "bounces" + e
	} else {
		return e
	}
}
