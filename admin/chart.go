package admin

import (
	"fmt"
	"math"
)

// chart is a stacked bar chart of verdicts per class per day, laid out
// here and drawn as inline SVG by the stats template.
type chart struct {
	Width, Height int
	Plot          rect // the plotting area
	Bars          []bar
	YTicks        []tick
	XTicks        []tick
	Legend        []string // classes that occur, in stacking order
	Empty         bool
}

type rect struct{ X, Y, W, H float64 }

type bar struct {
	rect
	Class string
	Title string // shown on hover: day, class, count
}

type tick struct {
	Pos   float64
	Label string
}

// Geometry of the chart, in SVG user units; the SVG scales to its box.
const (
	chartW, chartH = 880, 280
	padLeft        = 48
	padRight       = 12
	padTop         = 14
	padBottom      = 30
)

// newChart lays out days, stacking the classes in the order of classes.
func newChart(days []DayCount) chart {
	c := chart{Width: chartW, Height: chartH,
		Plot: rect{padLeft, padTop, chartW - padLeft - padRight, chartH - padTop - padBottom}}
	peak := 0
	used := make(map[string]bool)
	for _, d := range days {
		total := 0
		for _, cl := range classes {
			if n := d.ByClass[cl]; n > 0 {
				total += n
				used[cl] = true
			}
		}
		peak = max(peak, total)
	}
	for _, cl := range classes {
		if used[cl] {
			c.Legend = append(c.Legend, cl)
		}
	}
	c.Empty = peak == 0
	top := niceCeil(peak)
	step := top / 4
	for v := 0; v <= top; v += step {
		c.YTicks = append(c.YTicks, tick{c.Plot.Y + c.Plot.H - c.Plot.H*float64(v)/float64(top), fmt.Sprint(v)})
	}
	if len(days) == 0 {
		return c
	}
	slot := c.Plot.W / float64(len(days))
	w := math.Max(1, slot*0.72)
	labelEvery := max(1, (len(days)+9)/10)
	for i, d := range days {
		x := c.Plot.X + slot*float64(i) + (slot-w)/2
		if (len(days)-1-i)%labelEvery == 0 {
			c.XTicks = append(c.XTicks, tick{x + w/2, d.Day.Format("01-02")})
		}
		y := c.Plot.Y + c.Plot.H
		for _, cl := range classes {
			n := d.ByClass[cl]
			if n == 0 {
				continue
			}
			h := c.Plot.H * float64(n) / float64(top)
			y -= h
			c.Bars = append(c.Bars, bar{rect: rect{x, y, w, h}, Class: cl,
				Title: fmt.Sprintf("%s %s: %d", d.Day.Format("2006-01-02"), cl, n)})
		}
	}
	return c
}

// niceCeil returns the smallest of 4, 8, 20, 40, 80, 200 ... (a multiple
// of 4 made of 1, 2 or 5 times a power of ten) at or above n, so the
// four grid steps are round numbers.
func niceCeil(n int) int {
	if n <= 4 {
		return 4
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if v := 4 * m * p; v >= n {
				return v
			}
		}
	}
}
