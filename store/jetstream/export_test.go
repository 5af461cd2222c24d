package jetstream

// Escape and Unescape expose the key codec to the tests.
var (
	Escape   = escape
	Unescape = unescape
)
