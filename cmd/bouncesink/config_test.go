package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

const documentedConfig = "../../configs/bouncesink.toml"

// The documented config must spell out every setting with exactly the
// built-in default, so the documentation cannot drift from the code.
func TestDocumentedConfigIsTheDefault(t *testing.T) {
	// Decode into a zero Config, not over the defaults: a key missing from
	// the file then shows up as a difference.
	var got Config
	md, err := toml.DecodeFile(documentedConfig, &got)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Errorf("%s has keys Config does not know: %v", documentedConfig, u)
	}
	if want := defaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("%s differs from the built-in defaults:\n got %+v\nwant %+v", documentedConfig, got, want)
	}
	if err := got.validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	c := defaultConfig()
	if c.SMTP.Listen != "127.0.0.1:2525" || c.HTTP.Listen != "127.0.0.1:8025" || c.Store.Path != "./data/bouncesink.db" {
		t.Errorf("listen/store defaults = %q %q %q", c.SMTP.Listen, c.HTTP.Listen, c.Store.Path)
	}
	if c.SMTP.MaxMessageBytes != 10<<20 {
		t.Errorf("max_message_bytes = %d, want 10 MiB", c.SMTP.MaxMessageBytes)
	}
	if c.Policy.HardThreshold != 2 || c.Policy.HardWindow.Duration != 30*24*time.Hour {
		t.Errorf("hard policy = %d within %s, want 2 within 720h", c.Policy.HardThreshold, c.Policy.HardWindow)
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bouncesink.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigOverridesSomeKeys(t *testing.T) {
	path := writeConfig(t, `
[smtp]
accept = ["bounces@news.example.com", "@bounce.example.com"]
read_timeout = "90s"
[policy]
hard_threshold = 3
`)
	got, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.SMTP.Accept = []string{"bounces@news.example.com", "@bounce.example.com"}
	want.SMTP.ReadTimeout.Duration = 90 * time.Second
	want.Policy.HardThreshold = 3
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loadConfig =\n %+v\nwant %+v", got, want)
	}

	// A file that does not mention accept keeps the default.
	got, err = loadConfig(writeConfig(t, "[log]\nlevel = \"debug\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.SMTP.Accept, []string{"@localhost"}) {
		t.Errorf("accept = %q, want the default", got.SMTP.Accept)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, text, wantErr string
	}{
		{"unknown key", "[smtp]\nlisten_addr = \":25\"\n", "unknown keys: smtp.listen_addr"},
		{"unknown section", "[smpt]\nlisten = \":25\"\n", "unknown keys: smpt"},
		{"bad duration", "[policy]\nhard_window = \"30d\"\n", `duration "30d"`},
		{"duration as number", "[smtp]\nread_timeout = 300\n", "read_timeout"},
		{"bad TOML", "[smtp\n", "config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(writeConfig(t, tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("loadConfig = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"empty accept", func(c *Config) { c.SMTP.Accept = nil }, "smtp.accept is empty"},
		{"bad listen", func(c *Config) { c.HTTP.Listen = "8025" }, "http.listen"},
		{"bad separator", func(c *Config) { c.SMTP.VERPSeparator = "=" }, "verp_separator"},
		{"short lines", func(c *Config) { c.SMTP.MaxLineLength = 80 }, "max_line_length"},
		{"bad level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"zero threshold", func(c *Config) { c.Policy.HardThreshold = 0 }, "HardThreshold"},
		{"no duplicate index", func(c *Config) { c.Store.DuplicateIndexSize = 0 }, "store.duplicate_index_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultConfig()
			tt.edit(&c)
			if err := c.validate(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
