//go:build race

package classify

// raceEnabled: the race detector slows the classifier tenfold; the cost
// tests then run their shapes at a sixteenth of the sizes (the counts they
// check are the same at any size), as the data races they look for do not
// depend on it.
const raceEnabled = true
