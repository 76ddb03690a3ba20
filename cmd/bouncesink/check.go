package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// cmdCheck asks a running server which addresses are suppressed. Exit
// status: 0 if none is, 1 if any is, 2 on an error (usage, server
// unreachable or failing, or an address that is not valid).
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bouncesink check [--api URL] [--token TOKEN] ADDR...\n"+
			"exit status: 0 if no address is suppressed, 1 if any is, 2 on error")
		fs.PrintDefaults()
	}
	apiURL := fs.String("api", defaultAPI, "base `URL` of the bouncesink HTTP API")
	token := fs.String("token", "", "bearer `token` for the API, read role or more (default $BOUNCESINK_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	resp, err := postCheck(*apiURL, tokenOr(*token), fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "bouncesink check:", err)
		return 2
	}

	suppressed := map[string]checkEntry{}
	for _, s := range resp.Suppressed {
		suppressed[s.Address] = s
	}
	invalid := map[string]bool{}
	for _, a := range resp.Invalid {
		invalid[a] = true
	}
	status := 0
	for _, addr := range fs.Args() {
		if s, ok := suppressed[addr]; ok {
			fmt.Fprintf(stdout, "%s\tsuppressed\treason=%s\tdetail=%s\tsince=%s\n",
				addr, s.Reason, s.Detail, s.Since.Format(time.RFC3339))
			status = max(status, 1)
		} else if invalid[addr] {
			fmt.Fprintf(stdout, "%s\tinvalid\n", addr)
			status = 2
		} else {
			fmt.Fprintf(stdout, "%s\tok\n", addr)
		}
	}
	return status
}

type checkEntry struct {
	Address string    `json:"address"`
	Reason  string    `json:"reason"`
	Detail  string    `json:"detail"`
	Since   time.Time `json:"since"`
}

type checkAnswer struct {
	Suppressed []checkEntry `json:"suppressed"`
	Invalid    []string     `json:"invalid"`
}

func postCheck(base, token string, addrs []string) (checkAnswer, error) {
	var ans checkAnswer
	body, err := json.Marshal(map[string][]string{"addresses": addrs})
	if err != nil {
		return ans, err
	}
	req, err := http.NewRequest(http.MethodPost, strings.TrimRight(base, "/")+"/v1/check", bytes.NewReader(body))
	if err != nil {
		return ans, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return ans, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ans, apiError(resp)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return ans, fmt.Errorf("reading answer: %w", err)
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return ans, fmt.Errorf("decoding answer: %w", err)
	}
	return ans, nil
}
