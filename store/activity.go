package store

import (
	"time"
)

// ActivityOptions configure Activity; zero values mean the defaults.
type ActivityOptions struct {
	Days int // days in the daily series: 30 by default, at most MaxActivityDays
	Top  int // domains listed per window: 10 by default, at most 1000
}

// Activity counts the observations (verdicts) recorded recently.
type Activity struct {
	Now     time.Time        `json:"now"`
	Windows []WindowActivity `json:"windows"` // 24h, 7d, 30d
	// Daily is the series of the last Days UTC days, oldest first, today last.
	Daily []DayActivity `json:"daily"`
	// TopBlockDomains are the recipient domains with the most block
	// verdicts in the 24h window: a whole domain refusing the sender shows
	// here rather than as thousands of suppressions (blocks never suppress).
	TopBlockDomains []DomainCount `json:"top_block_domains"`
}

// WindowActivity counts the observations of one window. The 24h window is
// the current hour and the 23 before it; 7d and 30d are whole UTC days,
// today and the 6 (29) before it.
type WindowActivity struct {
	Window     string                    `json:"window"`
	Start      time.Time                 `json:"start"`
	Total      int                       `json:"total"`
	ByClass    map[string]int            `json:"by_class"`
	ByReason   map[string]map[string]int `json:"by_reason"`   // class -> reason -> count
	Domains    int                       `json:"domains"`     // with at least one observation
	TopDomains []DomainCount             `json:"top_domains"` // by total, the most first
}

// DomainCount counts one recipient domain's observations.
type DomainCount struct {
	Domain  string         `json:"domain"`
	Total   int            `json:"total"`
	ByClass map[string]int `json:"by_class"`
}

// DayActivity counts one UTC day's observations.
type DayActivity struct {
	Day     string         `json:"day"` // 2006-01-02
	Total   int            `json:"total"`
	ByClass map[string]int `json:"by_class"`
}
