package store

// The orders of QuerySuppressions (see Admin).
const (
	SortSince   = "since"   // Suppression.Since
	SortAddress = "address" // the address
	SortReason  = "reason"  // Suppression.Reason, in byte order
	SortDetail  = "detail"  // Suppression.Detail as stored, in byte order
)

// SuppressionQuery selects, orders and pages suppressions for people
// paging through the list by page number (the admin page).
type SuppressionQuery struct {
	SuppressionFilter
	Sort   string // SortSince (the default), SortAddress, SortReason or SortDetail
	Desc   bool   // the whole order reversed, ties included
	Offset int    // matching rows to skip
	Limit  int    // rows to return: 1 to MaxListPage (MaxListPage when out of range)
}
